"""Header-only reading of the metadata of association members.

One ``fits.open`` per file reads the primary and SCI headers; data arrays are
never touched (about 1-2 ms per file). Open datamodels (a hook on a pipeline
sub-step receives a ModelLibrary) are read through their ``meta`` tree instead.
"""

from __future__ import annotations

import functools
import math
import os
import re
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

from astropy.io import fits
from astropy.io.fits.verify import VerifyError

from jwst_memest.instruments import (IMAGING_PIXEL_SCALE, NIRCAM_SW_PIXEL_SCALE, NOMINAL_PIXEL_SCALE, WFSS_EXP_TYPES,
                                     full_frame)


__all__ = [
    "ExposureMetadata",
    "MetadataError",
    "read_exposure_metadata",
    "metadata_from_datamodel",
    "product_level",
    "exposure_stem",
]

# Pixel scale (arcsec) by detector, used when the header has no PIXAR_A2.
_DETECTOR_PIXEL_SCALE = {**IMAGING_PIXEL_SCALE, **NOMINAL_PIXEL_SCALE}

_MAX_AXIS = 1 << 16  # no JWST detector image is wider

_LEVELS = ("uncal", "rate", "rateints", "cal", "calints", "i2d", "s2d", "x1d", "crf")


class MetadataError(ValueError):
    """A member's metadata could not be read; the message names the file and the problem."""


def _split_suffix(path: str | Path) -> tuple[str, str]:
    """(exposure stem, suffix) of a file name, by jwst's own list of product suffixes ("" when none)."""
    return _split_name(os.path.basename(os.fspath(path)).split(".")[0])


@functools.lru_cache(maxsize=1 << 16)  # folder mode asks for each exposure's stem several times
def _split_name(name: str) -> tuple[str, str]:
    from jwst.lib.suffix import remove_suffix

    stem, separator = remove_suffix(name)
    return stem, name[len(stem) + len(separator):].lower() if stem != name else ""


def exposure_stem(path: str | Path) -> str:
    """A file's exposure name without directory, product suffix and extension: what all its products share.

    Parameters
    ----------
    path : str or pathlib.Path
        The file (by jwst's own list of product suffixes).

    Returns
    -------
    str
        Such as ``jw01234001001_03101_00001_nrca1``.
    """
    return _split_suffix(path)[0]


def product_level(path: str | Path) -> str:
    """Processing level from a file name suffix (``uncal``, ``rate``, ``cal``, ...).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    str
        The suffix, or ``unknown`` when it is not a level.
    """
    suffix = _split_suffix(path)[1]
    return suffix if suffix in _LEVELS else "unknown"


@dataclass
class ExposureMetadata:
    """What jwst_memest needs to know about one exposure (one detector).

    Read from headers by `read_exposure_metadata`, or from an open datamodel by
    `metadata_from_datamodel`; text values are upper case, absent ones None (NaN for numbers).

    Parameters
    ----------
    path : str
        The file.
    level : str, optional
        Its processing level (`product_level`).
    instrument, detector, module, exp_type, visit_type : str or None, optional
        INSTRUME, DETECTOR, MODULE, EXP_TYPE, VISITYPE.
    filter, pupil, grating, channel, band, subarray : str or None, optional
        FILTER, PUPIL, GRATING, CHANNEL, BAND, SUBARRAY.
    background_target, is_imprint, is_psf : bool, optional
        BKGDTARG, IS_IMPRT, IS_PSF (a PSF reference of coron3 or ami3).
    tso_visit : bool, optional
        TSOVISIT: a time-series visit.
    n_exposures, n_dither_points, n_groups : int or None, optional
        NEXPOSUR, NUMDTHPT, NGROUPS.
    n_integrations : int, optional
        NINTS (at least 1).
    ncols, nrows : int, optional
        The science image's size (SUBSIZE1/2, else the SCI axes, else the full frame).
    n_slits : int, optional
        SCI extensions of a multi-slit cal file: slits (NIRSpec) or sources (WFSS).
    slit_pixels : int, optional
        Their pixels, summed.
    tree_bytes : int, optional
        A multi-slit cal file's ASDF extension bytes (its slits' WCS and metadata, serialized).
    slit_spectra : tuple of (int, int, int), optional
        A WFSS cal file's cutouts: spectral order, source id and pixels along the dispersion axis each.
    pixel_scale : float, optional
        Arcsec per pixel (from PIXAR_A2, else the detector's).
    ra_ref, dec_ref : float, optional
        The pointing, degrees.
    pointing_keywords : str, optional
        Where ``ra_ref``/``dec_ref`` come from: ``RA_REF`` (RA_REF/DEC_REF) or ``CRVAL`` (CRVAL1/2).
    crval1, crval2 : float, optional
        The SCI WCS reference, which spacekit's imaging features take as the pointing.
    roll_ref : float, optional
        ROLL_REF (else PA_V3), degrees.
    targ_ra, targ_dec : float, optional
        TARG_RA, TARG_DEC, degrees.
    target_name : str or None, optional
        TARGNAME.
    exposure_id : str, optional
        Program, observation, visit, group, sequence, activity and exposure, joined by ``_``.
    readout_pattern : str or None, optional
        READPATT.
    n_frames : int, optional
        NFRAMES: frames averaged into a group.
    group_gap : int, optional
        GROUPGAP: frames dropped between groups.
    raw_rows : int, optional
        Rows of the raw ramp (NIRSpec IRS2 interleaves reference pixels: 3200 for 2048).
    msa_metadata_file : str or None, optional
        MSAMETFL: NIRSpec MOS's shutter configuration file.
    msa_metadata_id : int or None, optional
        MSAMETID: the configuration's rows in it.
    dither_point : int or None, optional
        PATT_NUM: the dither position.
    source_catalog : str or None, optional
        SCATFILE: a WFSS exposure's source catalog.
    warnings : list of str, optional
        Problems reading the headers, each naming the file.
    """

    path: str
    level: str = "unknown"
    instrument: str | None = None
    detector: str | None = None
    module: str | None = None
    exp_type: str | None = None
    visit_type: str | None = None
    filter: str | None = None
    pupil: str | None = None
    grating: str | None = None
    channel: str | None = None
    band: str | None = None
    subarray: str | None = None
    background_target: bool = False
    is_imprint: bool = False
    is_psf: bool = False  # a PSF reference (coron3, ami3)
    tso_visit: bool = False  # TSOVISIT: the exposure's slopes stay per integration (rateints) into Level 2
    n_exposures: int | None = None
    n_dither_points: int | None = None
    n_integrations: int = 1
    n_groups: int | None = None
    ncols: int = 0
    nrows: int = 0
    n_slits: int = 0  # SCI extensions of a multi-slit cal file: slits (NIRSpec) or sources (WFSS)
    slit_pixels: int = 0  # their pixels, summed
    tree_bytes: int = 0  # a multi-slit cal file's ASDF extension: the slits' WCS and metadata, serialized
    # a WFSS cal file's spectra as its SCI headers say: (SPORDER, SOURCEID, pixels along DISPAXIS)
    slit_spectra: tuple[tuple[int, int, int], ...] = ()
    pixel_scale: float = math.nan  # arcsec per pixel
    ra_ref: float = math.nan
    dec_ref: float = math.nan
    pointing_keywords: str = ""  # where ra_ref/dec_ref come from: "RA_REF" (RA_REF/DEC_REF) or "CRVAL" (CRVAL1/2)
    crval1: float = math.nan  # the SCI WCS reference, which spacekit's imaging features take as the pointing
    crval2: float = math.nan
    roll_ref: float = math.nan
    targ_ra: float = math.nan
    targ_dec: float = math.nan
    target_name: str | None = None
    exposure_id: str = ""  # program/observation/visit/group/sequence/activity/exposure
    readout_pattern: str | None = None  # READPATT
    n_frames: int = 1  # NFRAMES: frames averaged into a group
    group_gap: int = 0  # GROUPGAP: frames dropped between groups
    raw_rows: int = 0  # rows of the raw ramp (NIRSpec IRS2 interleaves reference pixels: 3200 for 2048)
    msa_metadata_file: str | None = None  # MSAMETFL: NIRSpec MOS's shutter configuration (calwebb_spec2 reads it)
    msa_metadata_id: int | None = None  # MSAMETID: the configuration's rows in it
    dither_point: int | None = None  # PATT_NUM: the dither position (the MSA file's rows per position)
    source_catalog: str | None = None  # SCATFILE: WFSS's source catalog (extract_2d's cutouts follow it)
    warnings: list[str] = field(default_factory=list)

    @property
    def pixels(self) -> int:
        """Pixels of the science image.

        Returns
        -------
        int
            ``ncols * nrows``.
        """
        return int(self.ncols) * int(self.nrows)

    @property
    def science_pixels(self) -> int:
        """Pixels the member's science arrays hold: its slits' when it has slits, else its image's.

        Returns
        -------
        int
            ``slit_pixels`` or ``pixels``.
        """
        return int(self.slit_pixels) if self.n_slits else self.pixels

    @property
    def has_pointing(self) -> bool:
        """Whether the exposure has a usable pointing.

        Returns
        -------
        bool
            True when ``ra_ref`` and ``dec_ref`` are finite and ``dec_ref`` is within +-90.
        """
        return math.isfinite(self.ra_ref) and math.isfinite(self.dec_ref) and abs(self.dec_ref) <= 90

    def as_dict(self) -> dict:
        """The metadata as a mapping of field name to value.

        Returns
        -------
        dict
            Every field.
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _TolerantHeader:
    """A FITS header in which a card whose value cannot be parsed reads as absent.

    Older writers left cards such as ``RA_REF  = NAN`` that astropy refuses to parse;
    one bad keyword must not cost the whole member. Each such keyword is reported once
    in ``problems``. Values are parsed only when asked for, as astropy does.
    """

    def __init__(self, header, problems: list[str]):
        self._header = header
        self._problems = problems
        self._values: dict = {}  # keyword -> parsed value, or _ABSENT (missing or unparsable)

    def _value(self, keyword):
        try:
            return self._values[keyword]
        except KeyError:
            pass
        try:
            value = self._header.get(keyword, _ABSENT)
        except VerifyError:
            value = _ABSENT
            # not the card's image: asking for it makes astropy rewrite the card, with warnings
            self._problems.append(f"{keyword}: value of its card cannot be parsed, read as missing")
        self._values[keyword] = value
        return value

    def __contains__(self, keyword) -> bool:
        return self._value(keyword) is not _ABSENT

    def __getitem__(self, keyword):
        value = self._value(keyword)
        if value is _ABSENT:
            raise KeyError(keyword)
        return value

    def get(self, keyword, default=None):
        value = self._value(keyword)
        return default if value is _ABSENT else value


_ABSENT = object()


def _first(headers, *keywords):
    for keyword in keywords:
        for header in headers:
            if header is not None and keyword in header:
                value = header[keyword]
                if value is None or isinstance(value, fits.card.Undefined):
                    continue
                if isinstance(value, str):
                    value = value.strip()
                    if not value:
                        continue
                return value
    return None


def _as_float(value, keyword, path, problems) -> float:
    if value is None:
        return math.nan
    try:
        result = float(value)
    except (TypeError, ValueError):
        problems.append(f"{keyword}={value!r} is not a number")
        return math.nan
    if not math.isfinite(result):
        problems.append(f"{keyword} is {value!r}")
    return result


def _as_int(value, keyword, path, problems) -> int | None:
    number = _as_float(value, keyword, path, problems)
    if not math.isfinite(number):
        return None
    return int(number)


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("T", "TRUE", "1", "Y", "YES")
    return bool(value)


def _as_str(value) -> str | None:
    return None if value is None else str(value).strip().upper()


def _pixel_scale(detector: str | None, pixar_a2) -> float:
    if pixar_a2 is not None:
        try:
            area = float(pixar_a2)
            if area > 0 and math.isfinite(area):
                return math.sqrt(area)
        except (TypeError, ValueError):
            pass
    if detector in _DETECTOR_PIXEL_SCALE:
        return _DETECTOR_PIXEL_SCALE[detector]
    if detector and detector.startswith("NRC"):
        return NIRCAM_SW_PIXEL_SCALE
    return 0.1


def _image_shape(primary, sci, detector, problems) -> tuple[int, int]:
    """Science image size: SUBSIZE1/2, else the SCI array's axes, else the detector's full frame."""
    full_size = full_frame(detector)
    sizes = [_first([primary, sci], "SUBSIZE1"), _first([primary, sci], "SUBSIZE2")]
    if None in sizes and sci is not None and _positive_int(sci.get("NAXIS", 0)) and int(sci["NAXIS"]) >= 2:
        sizes = [sci.get("NAXIS1"), sci.get("NAXIS2")]
    if None in sizes:
        return full_size
    parsed = [_positive_int(v) for v in sizes]
    if None in parsed:
        problems.append(f"image size {sizes[0]!r} x {sizes[1]!r} is not usable; assumed full frame")
        return full_size
    return parsed[0], parsed[1]


# NIRSpec IRS2 interleaves reference pixels with the science ones: its raw frames have 3200 rows
# for the 2048 science rows of the full frame (SUBSIZE2 says 2048)
IRS2_RAW_ROWS = 3200


def _raw_rows(sci, meta: ExposureMetadata) -> int:
    """Rows of the raw ramp: the SCI array's 4-D axes where the file has them, else IRS2's or the image's."""
    if sci is not None and _positive_int(sci.get("NAXIS", 0)) == 4:
        rows = _positive_int(sci.get("NAXIS2"))
        if rows:
            return rows
    if (meta.readout_pattern or "").startswith("NRSIRS2") and meta.nrows == 2048:
        return IRS2_RAW_ROWS
    return meta.nrows


def _positive_int(value) -> int | None:
    """A plausible detector dimension, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 1 or number > _MAX_AXIS or number != int(number):
        return None
    return int(number)


def _exposure_id(headers, path: str) -> str:
    parts = [_first(headers, k) for k in ("PROGRAM", "OBSERVTN", "VISIT", "VISITGRP", "SEQ_ID", "ACT_ID", "EXPOSURE")]
    if all(p is not None for p in parts):
        return "_".join(str(p).strip() for p in parts)
    # Fall back on the file name: jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>_<detector>_<suffix>
    match = re.match(r"(jw\d{11}_\d{5}_\d{5})", Path(path).name)
    return match.group(1) if match else Path(path).name


def metadata_from_headers(path: str, primary, sci, problems: list[str] | None = None) -> ExposureMetadata:
    """Build ExposureMetadata from a primary and an (optional) SCI header.

    Parameters
    ----------
    path : str
        The file the headers come from.
    primary : astropy.io.fits.Header or mapping
        The primary header.
    sci : astropy.io.fits.Header, mapping or None
        The SCI header, looked at first for the pointing and pixel area.
    problems : list of str or None, optional
        Problems already found in the headers (unparsable cards); they join the member's warnings.

    Returns
    -------
    ExposureMetadata
        The metadata, with a warning when it has no usable pointing.
    """
    headers = [primary, sci]
    problems = [] if problems is None else problems
    detector = _as_str(_first(headers, "DETECTOR"))
    ncols, nrows = _image_shape(primary, sci, detector, problems)
    ra = _first([sci, primary], "RA_REF")
    dec = _first([sci, primary], "DEC_REF")
    ra_key, dec_key = "RA_REF", "DEC_REF"
    crval1, crval2 = _first([sci, primary], "CRVAL1"), _first([sci, primary], "CRVAL2")
    if ra is None or dec is None:
        ra, dec = crval1, crval2
        ra_key, dec_key = "CRVAL1", "CRVAL2"
    meta = ExposureMetadata(
        path=str(path),
        level=product_level(path),
        instrument=_as_str(_first(headers, "INSTRUME")),
        detector=detector,
        module=_as_str(_first(headers, "MODULE")),
        exp_type=_as_str(_first(headers, "EXP_TYPE")),
        visit_type=_as_str(_first(headers, "VISITYPE")),
        filter=_as_str(_first(headers, "FILTER")),
        pupil=_as_str(_first(headers, "PUPIL")),
        grating=_as_str(_first(headers, "GRATING")),
        channel=_as_str(_first(headers, "CHANNEL")),
        band=_as_str(_first(headers, "BAND")),
        subarray=_as_str(_first(headers, "SUBARRAY")),
        background_target=_as_bool(_first(headers, "BKGDTARG")),
        is_imprint=_as_bool(_first(headers, "IS_IMPRT")),
        is_psf=_as_bool(_first(headers, "IS_PSF")),
        tso_visit=_as_bool(_first(headers, "TSOVISIT")),
        n_exposures=_as_int(_first(headers, "NEXPOSUR"), "NEXPOSUR", path, problems),
        n_dither_points=_as_int(_first(headers, "NUMDTHPT"), "NUMDTHPT", path, problems),
        n_integrations=max(_as_int(_first(headers, "NINTS"), "NINTS", path, problems) or 1, 1),
        n_groups=_as_int(_first(headers, "NGROUPS"), "NGROUPS", path, problems),
        ncols=ncols,
        nrows=nrows,
        pixel_scale=_pixel_scale(detector, _first([sci, primary], "PIXAR_A2")),
        ra_ref=_as_float(ra, ra_key, path, problems),
        dec_ref=_as_float(dec, dec_key, path, problems),
        pointing_keywords="RA_REF" if ra_key == "RA_REF" else ("CRVAL" if ra is not None and dec is not None else ""),
        crval1=_as_float(crval1, "CRVAL1", path, []),
        crval2=_as_float(crval2, "CRVAL2", path, []),
        roll_ref=_as_float(_first([sci, primary], "ROLL_REF", "PA_V3"), "ROLL_REF", path, problems),
        targ_ra=_as_float(_first(headers, "TARG_RA"), "TARG_RA", path, problems),
        targ_dec=_as_float(_first(headers, "TARG_DEC"), "TARG_DEC", path, problems),
        target_name=_first(headers, "TARGNAME"),
        exposure_id=_exposure_id(headers, str(path)),
        readout_pattern=_as_str(_first(headers, "READPATT")),
        n_frames=max(_as_int(_first(headers, "NFRAMES"), "NFRAMES", path, problems) or 1, 1),
        group_gap=max(_as_int(_first(headers, "GROUPGAP"), "GROUPGAP", path, problems) or 0, 0),
        msa_metadata_file=_first(headers, "MSAMETFL"),
        msa_metadata_id=_as_int(_first(headers, "MSAMETID"), "MSAMETID", path, []),
        dither_point=_as_int(_first(headers, "PATT_NUM"), "PATT_NUM", path, []),
        source_catalog=_first(headers, "SCATFILE"),
    )
    meta.raw_rows = _raw_rows(sci, meta)
    if not meta.has_pointing:
        problems.append("no usable pointing (RA_REF/DEC_REF or CRVAL1/CRVAL2)")
    meta.warnings = [f"{Path(path).name}: {p}" for p in problems]
    return meta


def read_exposure_metadata(path: str | Path) -> ExposureMetadata:
    """Read one member's metadata from its primary and SCI headers, never its data.

    Parameters
    ----------
    path : str or pathlib.Path
        The member's file.

    Returns
    -------
    ExposureMetadata
        Its metadata.

    Raises
    ------
    MetadataError
        The file is missing, not FITS, truncated, or lacks INSTRUME and EXP_TYPE.
    """
    return read_exposure_metadata_and_header(path)[0]


def read_exposure_metadata_and_header(path: str | Path) -> tuple[ExposureMetadata, fits.Header]:
    """`read_exposure_metadata` and the primary header it was read from.

    Folder mode builds its association pool from that header instead of opening the file again.

    Parameters
    ----------
    path : str or pathlib.Path
        The member's file.

    Returns
    -------
    metadata : ExposureMetadata
        Its metadata.
    header : astropy.io.fits.Header
        Its primary header.

    Raises
    ------
    MetadataError
        The file is missing, not FITS, truncated, or lacks INSTRUME and EXP_TYPE.
    """
    path = Path(path)
    read = _read_plain_headers(path)
    if read is not None:
        problems: list[str] = []
        primary, sci = _TolerantHeader(read[0], problems), _TolerantHeader(read[1], problems)
        if _first([primary, sci], "INSTRUME") is not None or _first([primary, sci], "EXP_TYPE") is not None:
            return metadata_from_headers(str(path), primary, sci, problems), read[0]
    if not path.is_file():
        raise MetadataError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, lazy_load_hdus=True, memmap=False, ignore_missing_simple=False) as hdul:
                problems: list[str] = []
                primary = _TolerantHeader(hdul[0].header, problems)
                sci = None
                try:
                    sci = _TolerantHeader(hdul["SCI"].header, problems)
                except (KeyError, IndexError):
                    sci = None
                except OSError as exc:
                    raise MetadataError(f"{path}: truncated or corrupt FITS ({exc})") from None
                slits, tree, spectra = _slit_sizes(hdul) if _is_multi_slit(primary, path) else ([], 0, ())
    except MetadataError:
        raise
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise MetadataError(f"{path}: not a readable FITS file ({exc})") from None
    if _first([primary, sci], "INSTRUME") is None and _first([primary, sci], "EXP_TYPE") is None:
        raise MetadataError(f"{path}: no INSTRUME or EXP_TYPE keyword; not a JWST exposure")
    meta = metadata_from_headers(str(path), primary, sci, problems)
    meta.n_slits, meta.slit_pixels, meta.tree_bytes = len(slits), sum(slits), tree
    meta.slit_spectra = spectra if meta.exp_type in WFSS_EXP_TYPES else ()
    return meta, primary._header


class RawHeader:
    """A FITS header as its file holds it: the 80-character cards, each value parsed when asked for.

    Reading a header this way costs a fraction of astropy's (no Card objects, no configuration look-ups
    per value); values read as astropy reads them (strings without trailing blanks, ``T``/``F`` as
    booleans, integers, floats), and any card this reader does not take plainly (an undefined or
    unparsable value, a complex number) is handed to astropy's own card parser. Files with CONTINUE
    or HIERARCH cards are not read this way (`_read_plain_headers`).

    Parameters
    ----------
    cards : tuple of str
        The header's cards, up to and without END.
    """

    __slots__ = ("cards_text", "_index", "_astropy")

    def __init__(self, cards: tuple[str, ...]):
        self.cards_text = cards
        self._index: dict[str, int] = {}
        for position, image in enumerate(cards):
            if image[8:10] == "= ":
                self._index.setdefault(image[:8].rstrip().upper(), position)
        self._astropy: fits.Header | None = None

    def get(self, keyword: str, default=None):
        """The keyword's value, or ``default`` when absent (as `astropy.io.fits.Header.get`).

        Parameters
        ----------
        keyword : str
            The keyword.
        default : object, optional
            Returned when the header has no such keyword.

        Returns
        -------
        object
            The value.

        Raises
        ------
        astropy.io.fits.verify.VerifyError
            When the card's value cannot be parsed (as astropy raises).
        """
        position = self._index.get(keyword.upper())
        if position is None:
            return default
        return _card_value(self.cards_text[position])

    def __getitem__(self, keyword: str):
        position = self._index.get(keyword.upper())
        if position is None:
            raise KeyError(f"Keyword {keyword!r} not found.")
        return _card_value(self.cards_text[position])

    def __contains__(self, keyword: str) -> bool:
        return keyword.upper() in self._index

    def value_items(self) -> list | None:
        """(keyword, value) of every card with a value astropy can parse, in the file's order, as astropy's
        cards give them.

        Commentary cards (COMMENT, HISTORY, blank) are left out, as a pool leaves them out, and so
        are cards whose value astropy cannot parse.

        Returns
        -------
        list of (str, object) or None
            The pairs; None when the header holds a card that is neither a value nor commentary
            (astropy's cards say what such a card is).
        """
        items = []
        for image in self.cards_text:
            if image[8:10] != "= ":
                if image[:8].rstrip().upper() not in ("", "COMMENT", "HISTORY"):
                    return None
                continue
            try:
                items.append((image[:8].rstrip().upper(), _card_value(image)))
            except (VerifyError, ValueError):
                continue
        return items

    def astropy(self) -> fits.Header:
        """The same header as astropy reads it (made once).

        Returns
        -------
        astropy.io.fits.Header
            The header.
        """
        if self._astropy is None:
            self._astropy = fits.Header.fromstring("".join(self.cards_text))
        return self._astropy

    @property
    def cards(self):
        """astropy's cards of the header (`astropy`).

        Returns
        -------
        astropy.io.fits.header._CardAccessor
            The cards.
        """
        return self.astropy().cards

    def __getstate__(self):
        return self.cards_text

    def __setstate__(self, cards):
        self.__init__(cards)


_PLAIN_VALUE = re.compile(
    r" *(?:'(?P<text>(?:[ -&(-~]|'')*)'|(?P<logical>[TF])|(?P<int>[+-]?\d+)|"
    r"(?P<real>[+-]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][+-]?\d+)?)) *(?:/.*)?$"
)


def _card_value(image: str):
    match = _PLAIN_VALUE.match(image, 10)
    if match is None:  # undefined, complex or unparsable: astropy says what it is
        return fits.Card.fromstring(image).value
    if match["text"] is not None:
        return match["text"].replace("''", "'").rstrip()
    if match["logical"] is not None:
        return match["logical"] == "T"
    if match["int"] is not None:
        return int(match["int"])
    return float(match["real"].replace("D", "E").replace("d", "e"))


_BLOCK = 2880


def _header_cards(handle) -> tuple[str, ...] | None:
    """The cards of the header at the handle's position, up to END; None when the file ends first."""
    cards: list[str] = []
    while True:
        block = handle.read(_BLOCK)
        if len(block) < _BLOCK:
            return None
        try:
            text = block.decode("ascii")
        except UnicodeDecodeError:
            return None
        for start in range(0, _BLOCK, 80):
            image = text[start:start + 80]
            if image.startswith("END") and not image[3:].strip():
                return tuple(cards)
            cards.append(image)


def _read_plain_headers(path: Path) -> tuple[RawHeader, RawHeader] | None:
    """The primary and SCI headers of a plain JWST exposure file, read directly; None for anything else
    (no such file, not FITS, primary data, a first extension other than SCI, CONTINUE or HIERARCH
    cards, a multi-slit cal file), which astropy reads instead."""
    try:
        with open(path, "rb") as handle:
            primary = _header_cards(handle)
            if not primary or not primary[0].startswith("SIMPLE  =") or _PLAIN_VALUE.match(primary[0], 10) is None:
                return None
            sci = _header_cards(handle)
    except OSError:
        return None
    if sci is None or any(image.startswith(("CONTINUE", "HIERARCH")) for image in primary + sci):
        return None
    headers = RawHeader(primary), RawHeader(sci)
    try:
        if headers[0].get("SIMPLE") is not True or headers[0].get("NAXIS", 0) != 0 \
                or not str(headers[1].get("XTENSION", "")).startswith("IMAGE") \
                or str(headers[1].get("EXTNAME", "")).strip().upper() != "SCI" \
                or _is_multi_slit(headers[0], path):
            return None
    except (VerifyError, ValueError, TypeError):
        return None
    return headers


def _is_multi_slit(primary, path: Path) -> bool:
    """A cal-level file of an exposure type whose cal files hold one SCI extension per slit or source."""
    from jwst_memest.instruments import MULTI_SLIT_EXP_TYPES

    return _as_str(_first([primary], "EXP_TYPE")) in MULTI_SLIT_EXP_TYPES and product_level(path) in ("cal", "s2d", "crf")


def _slit_sizes(hdul) -> tuple[list[int], int, tuple[tuple[int, int, int], ...]]:
    """Pixels of every SCI extension, from its header (NAXISn, else SLTSIZE1/2), the bytes of the
    ASDF extension (the slits' serialized WCS and metadata), from its header, and each SCI
    extension's spectral order, source and pixels along its dispersion axis (DISPAXIS; the length
    extract_1d gives its spectrum): no data is read."""
    sizes, tree, spectra = [], 0, []
    for hdu in hdul[1:]:
        header = hdu.header
        name = str(header.get("EXTNAME", "")).strip().upper()
        if name == "ASDF":
            tree = int(header.get("NAXIS1", 0) or 0) * int(header.get("NAXIS2", 0) or 0)
        if name != "SCI":
            continue
        if int(header.get("NAXIS", 0) or 0) >= 2:
            shape = int(header.get("NAXIS1", 0)), int(header.get("NAXIS2", 0))
        else:
            shape = int(header.get("SLTSIZE1", 0) or 0), int(header.get("SLTSIZE2", 0) or 0)
        sizes.append(shape[0] * shape[1])
        along = shape[1] if header.get("DISPAXIS") == 2 else shape[0]
        spectra.append((int(header.get("SPORDER", 1) or 1), int(header.get("SOURCEID", len(sizes)) or 0), along))
    return sizes, tree, tuple(spectra)


# The header keywords metadata_from_headers reads from a member; a datamodel's schema says where each lives
MEMBER_KEYWORDS = (
    "INSTRUME", "DETECTOR", "MODULE", "EXP_TYPE", "VISITYPE", "FILTER", "PUPIL", "GRATING", "CHANNEL", "BAND",
    "SUBARRAY", "SUBSIZE1", "SUBSIZE2", "BKGDTARG", "IS_IMPRT", "IS_PSF", "NEXPOSUR", "NUMDTHPT", "NINTS", "NGROUPS",
    "TARG_RA", "TARG_DEC", "TARGNAME", "PROGRAM", "OBSERVTN", "VISIT", "VISITGRP", "SEQ_ID", "ACT_ID", "EXPOSURE",
    "RA_REF", "DEC_REF", "ROLL_REF", "PA_V3", "CRVAL1", "CRVAL2", "PIXAR_A2", "READPATT", "NFRAMES", "GROUPGAP",
    "TSOVISIT", "MSAMETFL", "MSAMETID", "PATT_NUM", "SCATFILE",
)
_KEYWORD_PATHS: dict[type, dict[str, list[str]]] = {}


def _keyword_paths(model) -> dict[str, list[str]]:
    """Per member keyword, the paths its schema stores it at (stdatamodels' own map), once per model class."""
    if type(model) not in _KEYWORD_PATHS:
        _KEYWORD_PATHS[type(model)] = {keyword: model.find_fits_keyword(keyword) for keyword in MEMBER_KEYWORDS}
    return _KEYWORD_PATHS[type(model)]


def _at_path(model, path: str):
    node = model
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def metadata_from_datamodel(model, name: str | None = None) -> ExposureMetadata:
    """ExposureMetadata from an open jwst datamodel (its meta tree, no array access).

    Each member keyword is read where the model's schema puts it, then the same header logic
    as for a file applies; a multi-slit model's slits are counted.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        The open model.
    name : str or None, optional
        The member's name (default: the model's ``meta.filename``).

    Returns
    -------
    ExposureMetadata
        Its metadata.
    """
    primary = {}
    for keyword, paths in _keyword_paths(model).items():
        values = (_at_path(model, path) for path in paths)
        value = next((v for v in values if v is not None), None)
        if value is not None:
            primary[keyword] = value
    meta = model.meta
    path = name or getattr(meta, "filename", None) or "<datamodel>"
    result = metadata_from_headers(str(path), primary, None)
    slits = getattr(model, "slits", None)
    if slits:
        result.n_slits = len(slits)
        result.slit_pixels = sum(int(s.data.shape[0]) * int(s.data.shape[1]) for s in slits if s.data is not None)
        if result.exp_type in WFSS_EXP_TYPES:
            result.slit_spectra = tuple(
                (int(s.meta.wcsinfo.spectral_order or 1), int(s.source_id or 0),
                 int(s.data.shape[0] if s.meta.wcsinfo.dispersion_direction == 2 else s.data.shape[1]))
                for s in slits if s.data is not None)
    return result
