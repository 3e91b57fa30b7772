"""``python -m jwst_memest.profile {run,corpus,fit-baseline} ...``"""

import sys

from jwst_memest.cli_support import program, report_error

COMMANDS = {
    "run": ("jwst_memest.profile.run", "measure one association: run its Level-3 pipeline, append a corpus row"),
    "corpus": ("jwst_memest.profile.corpus", "run every configuration of a plan on synthetic exposures"),
    "fit-baseline": ("jwst_memest.profile.fit", "refit the physics baseline to measured corpora"),
    "spread": ("jwst_memest.profile.spread", "run the same configurations repeatedly, in several environments"),
    "fit-walltime": ("jwst_memest.profile.fit_walltime", "refit the wall-time model to measured corpora"),
    "fit-detector1": ("jwst_memest.profile.fit_detector1", "refit the calwebb_detector1 model to its measured corpus"),
    "fit-image2": ("jwst_memest.profile.fit_image2", "refit the calwebb_image2 model to its measured corpus"),
    "contam-geometry": ("jwst_memest.profile.contam_geometry",
                        "add the trace geometry to WFSS rows measured before it was recorded"),
}
USAGE = "usage: python -m jwst_memest.profile {run ASN | corpus --plan P --out CSV | fit-baseline --corpus CSV} ..."


def _help() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join([USAGE, "", "commands:", *lines, "", "python -m jwst_memest.profile COMMAND --help for its options"])


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(_help().replace("python -m jwst_memest.profile", program("python -m jwst_memest.profile")))
        return 0
    if not argv or argv[0] not in COMMANDS:
        # a bare association path means "run", as in `python -m jwst_memest.profile ASN`
        if argv and argv[0].endswith(".json"):
            argv = ["run", *argv]
        else:
            what = f"unknown command {argv[0]!r}" if argv else "no command"
            return report_error(f"{what}; expected one of {', '.join(COMMANDS)}", program("python -m jwst_memest.profile"))
    import importlib

    from jwst_memest.profile.monitor import exit_on_termination

    with exit_on_termination():
        return importlib.import_module(COMMANDS[argv[0]][0]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
