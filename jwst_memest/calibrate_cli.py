"""``jwst-memest calibrate``: time the speed workload on this machine and save its speed factor
(`jwst_memest.speed`); with ``--set-reference``, store the timing as the reference machine's in the
wall-time model (maintainers, on the machine the corpus is measured on)."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from jwst_memest.speed import DEFAULT_REPEATS, ENV_FACTOR, config_path, save_speed_factor, time_workload

__all__ = ["record_reference", "main"]


def record_reference(measured: dict, path: str | Path | None = None) -> Path:
    """Store a workload timing as the reference machine's, in the wall-time model's YAML.

    Parameters
    ----------
    measured : dict
        What `time_workload` returned on the machine the corpus was measured on.
    path : str or pathlib.Path or None, optional
        The YAML (default: the installed ``walltime.yaml``).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from jwst_memest.model import walltime
    from jwst_memest.profile.fit_walltime import write_walltime_yaml

    path = Path(path) if path else Path(walltime.walltime_file())
    reference = {"workload_s": measured["workload_s"], "runs": measured["runs"], "parts": measured["parts"],
                 "host_cpus": os.cpu_count(),
                 "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "note": "the calibration workload's time (fastest run of each part) on the machine the corpus was measured on"}
    written = write_walltime_yaml({}, path, reference)
    walltime.forget_installed()
    return written


def main(argv=None) -> int:
    """``jwst-memest calibrate``: time the workload, print and save this machine's speed factor.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 2 bad option or no reference time installed.
    """
    from jwst_memest.cli_support import CommandParser, program
    from jwst_memest.model.walltime import reference_workload_seconds

    parser = CommandParser(prog=program("python -m jwst_memest.calibrate_cli"), description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEATS, help="runs of the workload (each part's fastest run counts)")
    parser.add_argument("--no-save", action="store_true", help="print the factor, save nothing")
    parser.add_argument("--output", help=f"file to save the factor in (default: {config_path()})")
    parser.add_argument("--set-reference", action="store_true",
                        help="store this timing as the reference machine's in walltime.yaml (maintainers)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    measured = time_workload(args.repeat)
    if args.set_reference:
        print(f"reference workload: {measured['workload_s']:.3f} s (spread {measured['spread']:.1%}) -> "
              f"{record_reference(measured)}")
        return 0
    reference = reference_workload_seconds()
    if reference is None:
        print("error: the installed wall-time model records no reference workload time", file=sys.stderr)
        return 2
    factor = measured["workload_s"] / reference
    print(f"workload: {measured['workload_s']:.3f} s (fastest of {args.repeat}; spread {measured['spread']:.1%}; "
          + ", ".join(f"{k} {v:.3f} s" for k, v in measured["parts"].items()) + f"); reference {reference:.3f} s")
    print(f"speed factor: {factor:.3f} (wall-time estimates x{factor:.3f})")
    if not args.no_save:
        print(f"saved to {save_speed_factor(factor, measured, args.output)}")
    if os.environ.get(ENV_FACTOR, "").strip():
        print(f"note: ${ENV_FACTOR} is set and overrides the saved factor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
