"""``python -m jwst_memest.plan``: the same as ``jwst-memest plan``."""

import sys

from jwst_memest.plan.cli import main

if __name__ == "__main__":
    sys.exit(main())
