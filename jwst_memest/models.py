"""``python -m jwst_memest.models list | show PATH``: the same command as ``python -m jwst_memest.model``.

An entry point, outside the package's layers: it keeps the older spelling
``python -m jwst_memest.models import-spacekit [--out DIR]`` working by running training's
``convert-spacekit`` (imported only then), which the model package's command does not import.
"""

import sys

from jwst_memest.model.__main__ import main as _model_main

__all__ = ["main"]


def main(argv=None) -> int:
    """Run ``python -m jwst_memest.model``'s command, or ``import-spacekit`` as training's ``convert-spacekit``.

    Parameters
    ----------
    argv : list of str, optional
        The command's arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 2 bad input.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["import-spacekit"]:
        from jwst_memest.training.__main__ import convert_spacekit

        return convert_spacekit(argv[1:])
    return _model_main(argv)


if __name__ == "__main__":
    sys.exit(main())
