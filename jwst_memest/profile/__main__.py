"""``python -m jwst_memest.profile {run,corpus,fit-baseline} ...``"""

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": "jwst_memest.profile.run", "corpus": "jwst_memest.profile.corpus",
                "fit-baseline": "jwst_memest.profile.fit"}
    if not argv or argv[0] not in commands:
        # a bare association path means "run", as in `python -m jwst_memest.profile ASN`
        if argv and argv[0].endswith(".json"):
            argv = ["run", *argv]
        else:
            print("usage: python -m jwst_memest.profile {run ASN | corpus --plan P --out CSV | fit-baseline --corpus CSV}",
                  file=sys.stderr)
            return 2
    import importlib

    return importlib.import_module(commands[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
