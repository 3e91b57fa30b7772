"""The settings of a Level-3 run that change its memory, read the way the user gives them to the pipeline.

A calwebb_image3 run's memory follows more than its members: ``in_memory``; resample's output grid
(``pixel_scale``, ``pixel_scale_ratio``, ``output_shape``), the arrays it makes (``enable_ctx``,
``enable_err``, ``report_var``) and its pixel map (``pixmap_stepsize``); outlier_detection's
``resample_data`` and ``pixmap_stepsize``; and whether source_catalog runs. The same settings come
from ``strun`` arguments (``--steps.resample.pixel_scale=0.02``), from a pipeline parameter file,
or from the pipeline a hook runs inside. Imports nothing from the package.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

__all__ = ["RunSettings", "SettingsError", "DEFAULT_SETTINGS", "parse_boolean", "BOOLEAN_SPELLINGS"]


class SettingsError(ValueError):
    """A setting the pipeline would refuse: one line naming it and what it accepts."""


# field -> (pipeline step, that step's parameter name); the pipeline itself for in_memory
_PARAMETERS = {
    "in_memory": ("", "in_memory"),
    "pixel_scale": ("resample", "pixel_scale"),
    "pixel_scale_ratio": ("resample", "pixel_scale_ratio"),
    "output_shape": ("resample", "output_shape"),
    "enable_ctx": ("resample", "enable_ctx"),
    "enable_err": ("resample", "enable_err"),
    "report_var": ("resample", "report_var"),
    "pixmap_stepsize": ("resample", "pixmap_stepsize"),
    "outlier_resample_data": ("outlier_detection", "resample_data"),
    "outlier_pixmap_stepsize": ("outlier_detection", "pixmap_stepsize"),
    "skip_outlier_detection": ("outlier_detection", "skip"),
    "skip_source_catalog": ("source_catalog", "skip"),
    "skip_resample": ("resample", "skip"),
    "jump_maximum_cores": ("jump", "maximum_cores"),
    "ramp_fit_maximum_cores": ("ramp_fit", "maximum_cores"),
    "soss_atoca": ("extract_1d", "soss_atoca"),
    "wfss_nbright": ("extract_2d", "wfss_nbright"),
    "wfss_mmag_extract": ("extract_2d", "wfss_mmag_extract"),
    "skip_wfss_contam": ("wfss_contam", "skip"),
    "wfss_contam_maximum_cores": ("wfss_contam", "maximum_cores"),
    "wfss_contam_max_pixels": ("wfss_contam", "max_pixels_per_chunk"),
    "wfss_contam_oversample": ("wfss_contam", "wl_oversample"),
    "wfss_distortion": ("assign_wcs", "override_distortion"),
    "wfss_filteroffset": ("assign_wcs", "override_filteroffset"),
    "wfss_specwcs": ("assign_wcs", "override_specwcs"),
    "wfss_wavelengthrange": ("assign_wcs", "override_wavelengthrange"),
}
# the references whose overrides are read: the grism WCS wfss_contam's traces follow
_BY_ARGUMENT = {(step, name): field for field, (step, name) in _PARAMETERS.items()}


# The spellings of true and false every command line, parameter and environment variable of the
# package accepts (any case, surrounding blanks ignored): the one boolean parser, used everywhere
BOOLEAN_SPELLINGS = {
    True: ("true", "t", "yes", "y", "1", "on"),
    False: ("false", "f", "no", "n", "0", "off"),
}


def parse_boolean(text: Any) -> bool:
    """``True``/``False`` from a bool or one of BOOLEAN_SPELLINGS.

    Parameters
    ----------
    text : object
        A bool, or text in any case with blanks around it.

    Returns
    -------
    bool
        The value.

    Raises
    ------
    ValueError
        "must be true or false", for anything else.
    """
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    for result, spellings in BOOLEAN_SPELLINGS.items():
        if value in spellings:
            return result
    raise ValueError("must be true or false")


def _boolean(text: Any, what: str) -> bool:
    try:
        return parse_boolean(text)
    except ValueError:
        raise SettingsError(f"{what}={text}: must be true or false") from None


def _number(text: Any, what: str, *, positive: bool = True) -> float | None:
    if text is None or str(text).strip().lower() in ("none", ""):
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise SettingsError(f"{what}={text}: must be a number") from None
    if not math.isfinite(value) or (positive and value <= 0):
        raise SettingsError(f"{what}={text}: must be a number above 0")
    return value


def _cores(text: Any, what: str) -> str:
    """``maximum_cores`` as jwst takes it: none, quarter, half, all, or a whole number of 1 or more."""
    value = str(text if text is not None else "none").strip().lower()
    if value in ("none", "quarter", "half", "all"):
        return value
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if number < 1 or number != int(number):
        raise SettingsError(f"{what}={text}: must be none, quarter, half, all or a whole number of 1 or more")
    return str(int(number))


def _reference(text: Any) -> str | None:
    """A step's ``override_<reftype>``: a file, ``N/A``, or None (CRDS selects it)."""
    value = "" if text is None else str(text).strip()
    return None if value.lower() in ("", "none") else value


def _count(text: Any, what: str) -> int | None:
    """A whole number of 1 or more (None: the default)."""
    value = _number(text, what)
    if value is None:
        return None
    if value != int(value):
        raise SettingsError(f"{what}={text}: must be a whole number of 1 or more")
    return int(value)


def _shape(text: Any, what: str) -> tuple[int, int] | None:
    if text is None or str(text).strip().lower() in ("none", ""):
        return None
    parts = list(text) if isinstance(text, (list, tuple)) else str(text).strip("[]() ").split(",")
    try:
        shape = tuple(int(float(p)) for p in parts)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 2 or min(shape) < 1:
        raise SettingsError(f"{what}={text}: must be two whole numbers above 0, [x, y] as resample takes them")
    return shape  # [x, y]: columns, rows


@dataclass(frozen=True)
class RunSettings:
    """What a calwebb_image3 run is told that changes its memory; the defaults are jwst's.

    Values are checked and normalised as the pipeline would take them (booleans from text,
    numbers above 0, ``output_shape`` as two whole numbers).

    Parameters
    ----------
    in_memory : bool, optional
        The pipeline's ``in_memory``.
    pixel_scale : float or None, optional
        resample's ``pixel_scale``, arcsec per output pixel.
    pixel_scale_ratio : float, optional
        resample's ``pixel_scale_ratio``: output over input pixel scale (ignored when
        ``pixel_scale`` is given).
    output_shape : tuple of int or None, optional
        resample's ``output_shape``, ``[x, y]``.
    enable_ctx : bool, optional
        resample's ``enable_ctx`` (the context image).
    enable_err : bool, optional
        resample's ``enable_err`` (the err array).
    report_var : bool, optional
        resample's ``report_var`` (the variance arrays).
    pixmap_stepsize : float, optional
        resample's ``pixmap_stepsize``.
    outlier_resample_data : bool, optional
        outlier_detection's ``resample_data``.
    outlier_pixmap_stepsize : float, optional
        outlier_detection's ``pixmap_stepsize``.
    skip_outlier_detection : bool, optional
        outlier_detection's ``skip``.
    skip_source_catalog : bool, optional
        source_catalog's ``skip``.
    skip_resample : bool, optional
        resample's ``skip`` (calwebb_image2's i2d of each exposure).
    jump_maximum_cores, ramp_fit_maximum_cores : str, optional
        calwebb_detector1's jump and ramp_fit ``maximum_cores`` (none, quarter, half, all or a number).
    soss_atoca : bool, optional
        extract_1d's ``soss_atoca``: NIRISS SOSS extracted by ATOCA (false: a box extraction).
    wfss_nbright : int, optional
        extract_2d's ``wfss_nbright``: the brightest WFSS sources extracted.
    wfss_mmag_extract : float or None, optional
        extract_2d's ``wfss_mmag_extract``: fainter WFSS sources (AB magnitude) are not extracted.
    skip_wfss_contam : bool, optional
        wfss_contam's ``skip`` (true by default: the contamination correction does not run).
    wfss_contam_maximum_cores : str, optional
        wfss_contam's ``maximum_cores``: its dispersing processes.
    wfss_contam_max_pixels : int, optional
        wfss_contam's ``max_pixels_per_chunk``: segment pixels dispersed at once by one process.
    wfss_contam_oversample : int, optional
        wfss_contam's ``wl_oversample``: wavelengths per pixel of the trace.
    wfss_distortion, wfss_filteroffset, wfss_specwcs, wfss_wavelengthrange : str or None, optional
        assign_wcs's ``override_<reftype>`` of the grism WCS (a file or ``N/A``; None: CRDS selects
        it): where wfss_contam's traces land follows them.

    Raises
    ------
    SettingsError
        When a value is one the pipeline would refuse.
    """

    in_memory: bool = True
    pixel_scale: float | None = None  # arcsec per output pixel
    pixel_scale_ratio: float = 1.0  # output over input pixel scale (ignored when pixel_scale is given)
    output_shape: tuple[int, int] | None = None  # [x, y]
    enable_ctx: bool = True
    enable_err: bool = True
    report_var: bool = True
    pixmap_stepsize: float = 1.0
    outlier_resample_data: bool = True
    outlier_pixmap_stepsize: float = 1.0
    skip_outlier_detection: bool = False
    skip_source_catalog: bool = False
    skip_resample: bool = False
    jump_maximum_cores: str = "none"
    ramp_fit_maximum_cores: str = "none"
    soss_atoca: bool = True
    wfss_nbright: int = 1000
    wfss_mmag_extract: float | None = None
    skip_wfss_contam: bool = True
    wfss_contam_maximum_cores: str = "1"
    wfss_contam_max_pixels: int = 5000
    wfss_contam_oversample: int = 2
    wfss_distortion: str | None = None
    wfss_filteroffset: str | None = None
    wfss_specwcs: str | None = None
    wfss_wavelengthrange: str | None = None

    def __post_init__(self):
        checks = {
            "pixel_scale": lambda v: _number(v, "steps.resample.pixel_scale"),
            "pixel_scale_ratio": lambda v: _number(v, "steps.resample.pixel_scale_ratio"),
            "output_shape": lambda v: _shape(v, "steps.resample.output_shape"),
            "pixmap_stepsize": lambda v: _number(v, "steps.resample.pixmap_stepsize"),
            "outlier_pixmap_stepsize": lambda v: _number(v, "steps.outlier_detection.pixmap_stepsize"),
            "jump_maximum_cores": lambda v: _cores(v, "steps.jump.maximum_cores"),
            "ramp_fit_maximum_cores": lambda v: _cores(v, "steps.ramp_fit.maximum_cores"),
            "wfss_nbright": lambda v: _count(v, "steps.extract_2d.wfss_nbright"),
            "wfss_mmag_extract": lambda v: _number(v, "steps.extract_2d.wfss_mmag_extract", positive=False),
            "wfss_contam_maximum_cores": lambda v: _cores(v, "steps.wfss_contam.maximum_cores"),
            "wfss_contam_max_pixels": lambda v: _count(v, "steps.wfss_contam.max_pixels_per_chunk"),
            "wfss_contam_oversample": lambda v: _count(v, "steps.wfss_contam.wl_oversample"),
            **{name: _reference for name in ("wfss_distortion", "wfss_filteroffset", "wfss_specwcs",
                                             "wfss_wavelengthrange")},
        }
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            step, name = _PARAMETERS[field.name]
            what = f"steps.{step}.{name}" if step else name
            if field.name in checks:
                value = checks[field.name](value)
                if value is None and field.default is not None:
                    value = field.default
            else:
                value = _boolean(value, what)
            object.__setattr__(self, field.name, value)

    # --- where settings come from -------------------------------------------------------------
    @classmethod
    def from_arguments(cls, arguments: Iterable[str], base: RunSettings | None = None) -> RunSettings:
        """Settings from ``strun`` arguments (``--in_memory=false``, ``--steps.resample.pixel_scale=0.02``).

        Arguments that do not change memory are ignored.

        Parameters
        ----------
        arguments : iterable of str
            The arguments, as given to ``strun``.
        base : RunSettings or None, optional
            The settings the arguments change (default: jwst's).

        Returns
        -------
        RunSettings
            ``base`` with the arguments' settings.

        Raises
        ------
        SettingsError
            When a value is one the pipeline would refuse.
        """
        values = {}
        for argument in arguments:
            key, sep, value = str(argument).lstrip("-").partition("=")
            if not sep:
                continue
            parts = key.strip().split(".")
            if parts[0] == "steps" and len(parts) == 3:
                field = _BY_ARGUMENT.get((parts[1], parts[2]))
            else:
                field = _BY_ARGUMENT.get(("", key.strip()))
            if field:
                values[field] = value.strip().strip("'\"")
        return dataclasses.replace(base or cls(), **values)

    @classmethod
    def from_parameters(cls, parameters: Mapping, base: RunSettings | None = None) -> RunSettings:
        """Settings from a pipeline's parameters as a nested mapping.

        Parameters
        ----------
        parameters : Mapping
            A parameter file's ``parameters`` with ``steps`` by step name, or
            ``{"steps": [{"name": ..., "parameters": {...}}]}`` as stpipe writes them.
        base : RunSettings or None, optional
            The settings the parameters change (default: jwst's).

        Returns
        -------
        RunSettings
            ``base`` with the parameters' settings.

        Raises
        ------
        SettingsError
            When a value is one the pipeline would refuse.
        """
        values = {}
        for (step, name), field in _BY_ARGUMENT.items():
            if not step and name in parameters:
                values[field] = parameters[name]
        steps = parameters.get("steps") or {}
        if isinstance(steps, list):  # stpipe's parameter files list the steps with their names
            steps = {entry.get("name"): entry.get("parameters", {}) for entry in steps if isinstance(entry, Mapping)}
        for step_name, step_parameters in steps.items():
            if not isinstance(step_parameters, Mapping):
                continue
            for name, value in step_parameters.items():
                field = _BY_ARGUMENT.get((step_name, name))
                if field:
                    values[field] = value
        return dataclasses.replace(base or cls(), **values)

    @classmethod
    def from_parameter_file(cls, path: str, base: RunSettings | None = None) -> RunSettings:
        """Settings from a pipeline parameter file (.asdf or .cfg), read by stpipe.

        Parameters
        ----------
        path : str
            The parameter file.
        base : RunSettings or None, optional
            The settings the file changes (default: jwst's).

        Returns
        -------
        RunSettings
            ``base`` with the file's settings.

        Raises
        ------
        SettingsError
            One line naming the file, when it is not a parameter file or holds a value the
            pipeline would refuse.
        """
        from stpipe.config_parser import load_config_file

        try:
            parameters = load_config_file(str(path))
        except Exception as exc:  # stpipe raises several kinds for a file that is not a parameter file
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SettingsError(f"{path}: not a pipeline parameter file ({reason})") from None
        try:
            return cls.from_parameters(parameters, base)
        except SettingsError as exc:
            raise SettingsError(f"{path}: {exc}") from None

    @classmethod
    def from_pipeline(cls, pipeline) -> RunSettings:
        """Settings of a pipeline object a hook runs inside (its own in_memory, its steps' parameters).

        Parameters
        ----------
        pipeline : stpipe.pipeline.Pipeline
            The pipeline object.

        Returns
        -------
        RunSettings
            Its settings; jwst's defaults where it has none.
        """
        values = {}
        for field, (step, name) in _PARAMETERS.items():
            owner = getattr(pipeline, step, None) if step else pipeline
            value = getattr(owner, name, None) if owner is not None else None
            if value is not None:
                values[field] = value
        return cls(**values)

    def apply_to(self, pipeline, base: RunSettings | None = None) -> list[str]:
        """Set on a pipeline object (and its steps) the settings that differ from ``base``.

        ``in_memory`` is also handed to the pipeline's steps that have one.

        Parameters
        ----------
        pipeline : stpipe.pipeline.Pipeline
            The pipeline object to change.
        base : RunSettings or None, optional
            The settings it has (default: read from it).

        Returns
        -------
        list of str
            The parameters set, as ``steps.resample.enable_ctx=False``.
        """
        base = base or RunSettings.from_pipeline(pipeline)
        done = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value == getattr(base, field.name):
                continue
            step, name = _PARAMETERS[field.name]
            owner = getattr(pipeline, step, None) if step else pipeline
            if owner is None:
                continue
            setattr(owner, name, list(value) if isinstance(value, tuple) else value)
            if field.name == "in_memory":  # the pipeline hands in_memory to its steps
                for step_name in getattr(pipeline, "step_defs", {}):
                    sub = getattr(pipeline, step_name, None)
                    if sub is not None and hasattr(sub, "in_memory"):
                        sub.in_memory = value
            done.append(f"{'steps.' + step + '.' if step else ''}{name}={value}")
        return done

    # --- what they are -------------------------------------------------------------------------
    def arguments(self) -> list[str]:
        """The ``strun`` arguments that give these settings (defaults left out).

        Returns
        -------
        list of str
            Arguments such as ``--steps.resample.enable_ctx=false``.
        """
        found = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value == field.default:
                continue
            step, name = _PARAMETERS[field.name]
            text = (str(value).lower() if isinstance(value, bool)
                    else f"{value[0]},{value[1]}" if isinstance(value, tuple)
                    else value if isinstance(value, str) else f"{value:g}")
            found.append(f"--{'steps.' + step + '.' if step else ''}{name}={text}")
        return found

    def changed(self) -> dict:
        """The settings that differ from jwst's defaults, by parameter (``steps.resample.pixel_scale``).

        Returns
        -------
        dict
            Each changed parameter's value (``output_shape`` as a list).
        """
        found = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default:
                step, name = _PARAMETERS[field.name]
                found[f"steps.{step}.{name}" if step else name] = list(value) if isinstance(value, tuple) else value
        return found

    def output_scale(self, input_scale: float) -> float:
        """Arcsec per output pixel of the mosaic drawn from members of ``input_scale`` arcsec per pixel.

        Parameters
        ----------
        input_scale : float
            The members' pixel scale, arcsec.

        Returns
        -------
        float
            ``pixel_scale`` when given, else ``input_scale * pixel_scale_ratio``.
        """
        return self.pixel_scale if self.pixel_scale else input_scale * self.pixel_scale_ratio

    def area_ratio(self, input_scale: float) -> float:
        """Output pixels per input pixel of the same sky: (input scale / output scale) squared.

        Parameters
        ----------
        input_scale : float
            The members' pixel scale, arcsec.

        Returns
        -------
        float
            The ratio of pixel counts.
        """
        return (input_scale / self.output_scale(input_scale)) ** 2

    @property
    def output_arrays_off(self) -> list[str]:
        """The output arrays resample is told not to make.

        Returns
        -------
        list of str
            Those of ``enable_ctx``, ``enable_err``, ``report_var`` that are False.
        """
        return [name for name in ("enable_ctx", "enable_err", "report_var") if not getattr(self, name)]


DEFAULT_SETTINGS = RunSettings()
