"""The bundled example: header-only NIRCam exposures and their Level-3 association.

``python -m jwst_memest.example`` prints the path of the shipped association
(in ``jwst_memest/data/example``); ``python -m jwst_memest.example --write DIR``
makes it anew with jwst's association rules.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from jwst_memest.cli_support import CommandParser, program
from jwst_memest.exposures import NIRCAM_SW_DETECTORS, ExposureLayout, write_header_exposures

__all__ = ["EXAMPLE_LAYOUT", "example_association", "make_example", "write_layout_association"]

# NIRCam short-wave module A, 4-point dither, F150W: 16 members, one image3 product.
EXAMPLE_LAYOUT = ExposureLayout(
    program=1234, observation=1, detectors=NIRCAM_SW_DETECTORS[:4], filter="F150W", pupil="CLEAR",
    dither_points=4, dither_step_arcsec=3.0,
)


def example_association() -> Path:
    """Path of the shipped example association.

    Returns
    -------
    pathlib.Path
        The ``*_asn.json`` in the package's ``data/example``.

    Raises
    ------
    FileNotFoundError
        When the package's data files are not installed.
    """
    folder = Path(str(resources.files("jwst_memest").joinpath("data", "example")))
    found = sorted(folder.glob("*_asn.json"))
    if not found:
        raise FileNotFoundError(f"{folder}: no example association; the package's data files are not installed")
    return found[0]


def make_example(directory: str | Path) -> Path:
    """Write the example exposures and their association (made by jwst's rules) to ``directory``.

    The association names its members as the files written (``_uncal``), not at the level jwst's
    rules name them (``_cal``): the example estimates without substituting any member.

    Parameters
    ----------
    directory : str or pathlib.Path
        Where to write them.

    Returns
    -------
    pathlib.Path
        The association written.
    """
    path = write_layout_association(EXAMPLE_LAYOUT, directory, exp_modes=("image",))
    return _name_members_as_written(path)


def _name_members_as_written(path: Path) -> Path:
    """Name the association's members as the files beside it (jwst's rules name ``_cal`` files; the
    example ships header-only ``_uncal`` ones), so that estimating it substitutes nothing."""
    import json

    from jwst_memest.association import resolve_member
    from jwst_memest.atomic import write_json_atomic

    content = json.loads(path.read_text())
    for product in content["products"]:
        for member in product["members"]:
            found = resolve_member(member["expname"], path.parent)
            if found is not None:
                member["expname"] = found.name
    return write_json_atomic(content, path)


def write_layout_association(layout: ExposureLayout, directory: str | Path, exp_modes=("image", "spec")) -> Path:
    """Header-only exposures of a layout and the one Level-3 association jwst's rules make of them.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The exposures to write.
    directory : str or pathlib.Path
        Where to write them.
    exp_modes : tuple of str, optional
        The exposure modes whose products are kept.

    Returns
    -------
    pathlib.Path
        The association written (not annotated).

    Raises
    ------
    ValueError
        When the exposures form other than one association.
    """
    from jwst_memest.predict import JwstCalPredict

    directory = Path(directory)
    write_header_exposures(layout, directory)
    predictor = JwstCalPredict(directory, exp_modes=exp_modes)
    predictor.run_inference()
    (path,) = predictor.write_associations(directory, annotate=False)
    return path


def main(argv=None) -> int:
    parser = CommandParser(prog=program("python -m jwst_memest.example"), description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="DIR", help="write the example exposures and association to DIR")
    args = parser.parse_args(argv)
    try:
        print(make_example(args.write) if args.write else example_association())
    except (ValueError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def _one_line(exc: Exception) -> str:
    """An OSError names its file apart from its message; others carry the file in the message."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
