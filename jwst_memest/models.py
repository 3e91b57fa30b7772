"""``python -m jwst_memest.models list | show PATH | import-spacekit [--out DIR]``: the same command as ``python -m jwst_memest.model``."""

import sys

from jwst_memest.model.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
