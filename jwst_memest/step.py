"""MemoryEstimateStep: annotate a Level-3 association with per-product peak memory, or size the stages
before Level 3 of an exposure or a Level-2 association."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import shlex
from pathlib import Path

from stpipe.exceptions import StpipeExitException, ValidationError

from jwst.stpipe import Step
from jwst_memest.annotation import annotate_association
from jwst_memest.association import AssociationError, first_few, load_level3_association
from jwst_memest.atomic import write_json_atomic
from jwst_memest.estimate_records import estimate_table
from jwst_memest.exposure_estimate import detector1_host, estimate_from_metadata, exposure_table, is_exposure_file
from jwst_memest.estimation import estimate_association
from jwst_memest.hosting import available_memory_gb, estimate_open_models, rescue_parent
from jwst_memest.level2_estimate import (estimate_level2, estimate_level2_association, estimate_reduction, level2_host,
                                        write_reduction_estimate)
from jwst_memest.settings import RunSettings, SettingsError, parse_boolean

log = logging.getLogger(__name__)

__all__ = ["MemoryEstimateStep", "MemoryEstimateError", "ProductsNotEstimatedError", "Estimates", "describe_check"]

# strun's exit statuses (README): 2 nothing estimated (bad input or parameters), 3 some products not estimated
EXIT_NOTHING_ESTIMATED = 2
EXIT_SOME_PRODUCTS_FAILED = 3


class _ToLogger(logging.Handler):
    """Passes each record to another logger's handlers."""

    def __init__(self, target: logging.Logger):
        super().__init__()
        self.target = target

    def emit(self, record):
        self.target.handle(record)


@contextlib.contextmanager
def _logging_through_stpipe():
    """As a hook, the package's log records go where the host pipeline's go.

    The host configures its own loggers only (jwst's and stpipe's, not ``jwst_memest``): while the
    hook runs, the package's records pass through stpipe's logger, at its level, unless something
    has configured the package's logger itself.
    """
    package, host = logging.getLogger(__name__.partition(".")[0]), logging.getLogger("stpipe")
    if package.handlers or package.level != logging.NOTSET:
        yield
        return
    forward = _ToLogger(host)
    package.addHandler(forward)
    package.setLevel(host.getEffectiveLevel())
    package.propagate = False  # stpipe's logger propagates them
    try:
        yield
    finally:
        package.removeHandler(forward)
        package.setLevel(logging.NOTSET)
        package.propagate = True


class MemoryEstimateError(StpipeExitException, ValueError):
    """Bad input; ``strun`` exits with status 2 and this one-line message, no traceback.

    Parameters
    ----------
    message : str
        What is wrong; line breaks in it are escaped so that it stays one line.
    exit_status : int, optional
        The exit status ``strun`` exits with (2: nothing estimated).
    """

    def __init__(self, message: str, exit_status: int = EXIT_NOTHING_ESTIMATED):
        # product names from the association may hold line breaks; the message stays one line
        message = str(message).replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(exit_status, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Estimates(dict):
    """Estimates by product name; ``failures`` maps each product that could not be estimated to why.

    Each value is the product's ``gbSize`` with its ``memory_estimate`` annotation.

    Parameters
    ----------
    estimates : dict
        The estimates, by product name.
    failures : dict of str to str
        Each product that could not be estimated, and why.
    """

    def __init__(self, estimates: dict, failures: dict[str, str]):
        super().__init__(estimates)
        self.failures = dict(failures)


class ProductsNotEstimatedError(MemoryEstimateError):
    """Some products could not be estimated; the others were estimated and written.

    ``strun`` exits with status 3. ``MemoryEstimateStep.call`` returns ``estimates``
    (whose ``failures`` name the others) instead of raising.

    Parameters
    ----------
    message : str
        One line naming the association and the failed products.
    estimates : Estimates
        The estimates of the other products, with the failures.
    """

    def __init__(self, message: str, estimates: Estimates):
        super().__init__(message, EXIT_SOME_PRODUCTS_FAILED)
        self.estimates = estimates


class MemoryEstimateStep(Step):
    """Estimate the peak memory of each product of a Level-3 association.

    Standalone it writes the association back with ``gbSize`` and a
    ``memory_estimate`` block per product and returns the estimates. Given an
    exposure (uncal, rate or rateints) it estimates the stages that run from it
    (calwebb_detector1, then calwebb_image2 or calwebb_spec2) and writes
    ``<exposure>_memest.json``; given a Level-2 association, each exposure. As a
    pre-hook of any of these pipelines it never changes the pipeline's input and
    never aborts it: failures become one warning.

    The step's own parameters (``model_path``, ``in_memory``, ``upper_quantile``,
    ``search_path``, ``inplace``, ``memory_limit``, ``max_request_gb``,
    ``pipeline_arguments``, ``pipeline_config``, ``apply_savings``) are described in the
    README; they are given as keywords, as to any stpipe step.

    Parameters
    ----------
    name : str, optional
        The step instance's name, used in logging; by default one made from the class name.
    parent : stpipe.step.Step, optional
        The pipeline the step runs in (as a pre-hook), or None standalone.
    config_file : str or pathlib.Path, optional
        The parameter file the step was made from, for relative paths in it.
    _validate_kwds : bool, optional
        Whether ``kws`` are validated against the step's specification.
    **kws
        The step's parameters.
    """

    class_alias = "memory_estimate"

    spec = """
    model_path = string(default=None)  # Model bundle (.asdf) to use instead of the installed default
    in_memory = boolean(default=None)  # in_memory of the Level-3 run to size; None: the parent pipeline's, else True
    upper_quantile = float(default=0.95, min=0.5, max=1.0)  # Quantile of the calibrated upper bound
    search_path = string(default=None)  # More directories to look for members and their siblings, separated by ':'
    inplace = boolean(default=False)  # Annotate the input association in place instead of writing <asn>_memest.json
    memory_limit = float(default=None, min=0)  # GB; as a calwebb_image3 pre-hook, above it switch to in_memory=False (default: $JWST_MEMEST_MEMORY_LIMIT, else available memory)
    max_request_gb = float(default=None, min=0)  # GB; cap of the memory request written beside the estimate (default: $JWST_MEMEST_MAX_REQUEST_GB, else no cap)
    pipeline_arguments = string(default=None)  # The Level-3 run's own arguments that change memory, as given to strun, e.g. "--steps.resample.pixel_scale=0.02 --steps.resample.enable_ctx=false"
    pipeline_config = string(default=None)  # The Level-3 run's parameter file (.asdf or .cfg), read for the same settings
    apply_savings = boolean(default=None)  # As a calwebb_image3 pre-hook, beyond on-disk processing also switch off the context image, then err (skipping source_catalog), until the bound fits memory_limit (default: $JWST_MEMEST_APPLY_SAVINGS, else False)
    """  # noqa: E501

    reference_file_types: list = []

    @staticmethod
    def get_stpipe_loggers():
        """The loggers stpipe configures when it runs this step: jwst's, and this package's.

        Returns
        -------
        tuple of str
            jwst's logger names and ``jwst_memest`` (every module's logger is its ``__name__``).
        """
        return (*Step.get_stpipe_loggers(), "jwst_memest")

    @classmethod
    def from_config_section(cls, config, parent=None, name=None, config_file=None):
        # strun prints configobj's complaint with the usage text and a traceback, and exits 1
        """Create the step from a configuration section, refusing bad parameter values in one line.

        Parameters
        ----------
        config : configobj.Section
            The step's parameters.
        parent : stpipe.step.Step, optional
            The pipeline the step runs in.
        name : str, optional
            The step instance's name.
        config_file : str or pathlib.Path, optional
            The parameter file the section came from.

        Returns
        -------
        MemoryEstimateStep
            The step, with its parameters set.

        Raises
        ------
        MemoryEstimateError
            When a parameter's value is refused: one line naming each refused parameter, its
            value and what it accepts (``strun`` exits with status 2).
        """
        try:
            return super().from_config_section(config, parent=parent, name=name, config_file=config_file)
        except ValidationError as exc:
            message = _parameter_error(str(exc), config, cls.load_spec_file())
            log.error(message, extra={"memest_exit": True})  # strun reports an exit-status exception by its status alone
            raise MemoryEstimateError(message) from None

    @classmethod
    def get_config_from_reference(cls, dataset, disable=None, crds_observatory=None):
        # No parameter reference file exists in CRDS for this step: never ask.
        """Return no parameters: CRDS holds no parameter reference file for this step, and is never asked.

        Parameters
        ----------
        dataset : object
            The step's input (not read).
        disable : bool or None, optional
            Ignored.
        crds_observatory : str or None, optional
            Ignored.

        Returns
        -------
        configobj.ConfigObj
            An empty configuration.
        """
        return cls._empty_config()

    @classmethod
    def _get_crds_parameters(cls, dataset):
        # jwst would open the association as a ModelLibrary just to ask CRDS about
        # parameters this step does not have: slow on large inputs, fragile on bad ones.
        return {}, "jwst"

    @classmethod
    def call(cls, *args, **kwargs):
        # strun learns of failed products from run()'s exception (its exit status); a Python
        # caller gets the estimates of the other products, with the failures beside them.
        """Create and run the step; failed products are returned in ``failures``, not raised.

        Parameters
        ----------
        *args
            The association file (or, as a hook, the pipeline's input).
        **kwargs
            The step's parameters, ``config_file`` and stpipe's own keywords.

        Returns
        -------
        Estimates or None
            The estimates by product name, with ``failures`` naming the products that could not be
            estimated; None as a hook.

        Raises
        ------
        MemoryEstimateError
            When nothing could be estimated (bad input or a bad parameter value).
        """
        try:
            return super().call(*args, **kwargs)
        except ProductsNotEstimatedError as exc:
            return exc.estimates

    def run(self, *args):
        """Run the step on one association, or as a hook on its pipeline's input.

        Parameters
        ----------
        *args
            Standalone: exactly one association file. As a hook: the pipeline's input (an
            association file or a ModelLibrary).

        Returns
        -------
        Estimates or None
            Standalone, the estimates by product name; as a hook, None (the pipeline's input is
            unchanged; any failure is logged as one warning).

        Raises
        ------
        MemoryEstimateError
            Standalone, when not given one association, when ``output_dir`` is not a directory,
            or when nothing could be estimated.
        ProductsNotEstimatedError
            Standalone, when some products could not be estimated (the others were written).
        """
        if self.parent is None:
            try:
                return self._run_standalone(*args)
            except MemoryEstimateError as exc:
                # under strun, after its "ERROR RUNNING STEP" banner on stdout, the last line on stderr
                log.error("%s", exc, extra={"memest_exit": True})
                raise
        with _logging_through_stpipe():
            try:
                super().run(*args)
            except Exception as exc:  # a hook never aborts its host pipeline
                log.warning("memory estimate skipped: %s",
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None

    def _run_standalone(self, *args):
        """The checks made before stpipe's run (and its parameter dump), then the run."""
        if len(args) != 1:  # strun with no association, or several: one line, not process()'s TypeError
            given = "none" if not args else f"{len(args)} ({first_few([str(a) for a in args])})"
            raise MemoryEstimateError(f"memory_estimate: expected one association file, got {given}")
        if isinstance(args[0], (str, Path)) and is_exposure_file(args[0]):
            if not Path(args[0]).is_file():
                raise MemoryEstimateError(f"{args[0]}: exposure file not found")
        elif isinstance(args[0], (str, Path)) and _is_level2_file(args[0]):
            pass  # checked as it is estimated: each product stands alone
        elif isinstance(args[0], (str, Path)):
            try:
                load_level3_association(args[0])  # a missing file, not JSON, not Level 3: said first
            except AssociationError as exc:
                raise MemoryEstimateError(str(exc)) from None
        output_dir = Path(os.path.expandvars(os.path.expanduser(self.output_dir or ".")))
        if output_dir.exists() and not output_dir.is_dir():  # stpipe would only say "File exists"
            raise MemoryEstimateError(f"{self.output_dir}: output_dir is not a directory")
        try:
            estimates = super().run(*args)
        except OSError as exc:  # e.g. stpipe making an output_dir that cannot be made
            where = exc.filename or self.output_dir
            raise MemoryEstimateError(f"{where}: {exc.strerror or exc}") from None
        if isinstance(estimates, Estimates) and estimates.failures:
            total = len(estimates) + len(estimates.failures)
            raise ProductsNotEstimatedError(
                f"{args[0]}: {len(estimates.failures)} of {total} products not estimated "
                f"({first_few(list(estimates.failures))}); the others were written", estimates)
        return estimates

    def process(self, input_data):
        """Estimate, log the table, and write the annotated association.

        Parameters
        ----------
        input_data : str, pathlib.Path or jwst.datamodels.ModelLibrary
            An association file, or (as a hook on a sub-step) the pipeline's open models.

        Returns
        -------
        Estimates or None
            The estimates by product name, with their ``failures``; None as a hook (a hook's
            return value would replace the pipeline's input).

        Raises
        ------
        MemoryEstimateError
            When the input or a setting cannot be read, or the annotated association cannot be
            written.
        """
        pipeline = detector1_host(self.parent)
        if pipeline is not None:
            return self._detector1_hook(input_data, pipeline)
        pipeline = level2_host(self.parent)
        if pipeline is not None:
            return self._level2_hook(input_data, pipeline)
        if isinstance(input_data, (str, Path)) and is_exposure_file(input_data):
            return self._estimate_exposure(input_data)
        if isinstance(input_data, (str, Path)) and _is_level2_file(input_data):
            return self._estimate_level2(input_data)
        options = dict(
            model_path=self.model_path,
            quantile=self.upper_quantile,
            max_request_gb=self._max_request_gb(),
        )
        try:
            settings = self._run_settings()
            if isinstance(input_data, (str, Path)):
                result = estimate_association(input_data, search_path=self._search_path(), settings=settings,
                                              **options)
            else:
                result = estimate_open_models(input_data, self.parent, settings=settings, **options)
        except (ValueError, OSError) as exc:
            raise MemoryEstimateError(str(exc)) from None

        if self.parent is not None:
            result = rescue_parent(self.parent, result, self._memory_limit(), options,
                                   apply_savings=self._apply_savings()) or result
        self.estimation = result  # for a caller that shows the table itself (jwst-memest estimate)
        self._log_table(result.products)
        for name, reason in result.failures.items():
            log.warning("%s: not estimated: %s", name, reason)
        self._write(result)
        if self.parent is not None:
            return None  # a hook's return value would replace the pipeline's input
        return Estimates({p.product: {"gbSize": p.rounded_gb, **p.annotation()} for p in result.products},
                         result.failures)

    def _estimate_exposure(self, path) -> dict:
        """The stages before Level 3 of one uncal, rate or rateints file, logged and written beside the others."""
        from jwst_memest.metadata import read_exposure_metadata

        try:
            meta = read_exposure_metadata(path)
            estimates, not_estimated = estimate_reduction(meta, self._run_settings(), self.upper_quantile)
            written = write_reduction_estimate(path, estimates, not_estimated, self.output_dir or ".")
        except (ValueError, OSError) as exc:
            raise MemoryEstimateError(str(exc)) from None
        self.estimation = estimates
        self.written_path = written
        if estimates:
            log.info("Memory estimate before Level 3 (GB = 1e9 bytes, upper bound at quantile %s):\n%s",
                     self.upper_quantile, exposure_table(estimates).rstrip())
        for line in not_estimated:
            log.warning("%s: %s", Path(path).name, line)
        log.info("Estimate written to %s", written)
        return {Path(path).name: {"stages": [e.annotation() for e in estimates], "not_estimated": not_estimated}}

    def _estimate_level2(self, path) -> dict:
        """Each exposure of a Level-2 association, logged, and the association annotated."""
        try:
            annotated, estimates, failures = estimate_level2_association(
                path, self._run_settings(), self.upper_quantile, self._search_path())
            if not estimates:  # nothing to write: one line with the first reason
                name, reason = next(iter(failures.items()))
                raise ValueError(f"{path}: no exposure estimated ({name}: {reason})")
            written = Path(self.output_dir or ".") / Path(path).name
            write_json_atomic(annotated, written)
        except (ValueError, OSError) as exc:
            raise MemoryEstimateError(str(exc)) from None
        self.estimation = estimates
        self.written_path = written
        if estimates:
            log.info("Level-2 memory estimates (GB = 1e9 bytes, upper bound at quantile %s):\n%s",
                     self.upper_quantile, exposure_table(estimates).rstrip())
        for name, reason in failures.items():
            log.warning("%s: not estimated: %s", name, reason)
        log.info("Annotated association written to %s", written)
        return Estimates({p.get("name", str(i)): {"gbSize": p["gbSize"], **p["memory_estimate"]}
                          for i, p in enumerate(annotated["products"])
                          if "gbSize" in p}, failures)

    def _level2_hook(self, exposure, pipeline) -> None:
        """As a pre-hook of calwebb_image2 or calwebb_spec2: estimate the run from the rate file's
        header or the open model's meta, and say when the bound is above memory_limit: wfss_contam runs
        in one process (the same result in less memory); no setting lowers the calibration steps;
        skipping resample lowers an imaging run's peak, a box extraction a NIRISS SOSS run's, a smaller
        chunk wfss_contam's: said, never applied, since they change the products)."""
        from jwst_memest.metadata import metadata_from_datamodel, read_exposure_metadata

        settings = RunSettings.from_pipeline(pipeline)
        if isinstance(exposure, (str, Path)) and not is_exposure_file(exposure):
            log.info("memory estimate: Level 2 of an association is sized per exposure; "
                     "run memory_estimate on each rate file")
            return None
        meta = read_exposure_metadata(exposure) if isinstance(exposure, (str, Path)) else metadata_from_datamodel(exposure)
        estimate = estimate_level2(meta, settings, self.upper_quantile)
        self.estimation = [estimate]
        log.info("%s memory estimate: %.3f GB (upper bound %.3f GB), peak in %s",
                 estimate.pipeline, estimate.gb, estimate.upper_gb, estimate.peak_step)
        limit = self._memory_limit()
        if estimate.upper_gb > limit and estimate.inputs.get("wfss_contam"):
            estimate = self._lighter_contam(meta, settings, pipeline, estimate, limit)
        if estimate.upper_gb > limit:
            # a box extraction changes the science (no decontamination of the orders): said, not applied
            advice = "; ".join(f"{' '.join(a['arguments'])} lowers it to {a['upper_bound_gb']:.3f} GB"
                               for a in estimate.alternatives)
            log.warning("upper bound %.3f GB above memory_limit %.3f GB; %s", estimate.upper_gb, limit,
                        advice or ("--steps.resample.skip=true lowers it" if estimate.peak_step == "resample"
                                   else "no setting of this pipeline lowers it"))
        return None

    def _lighter_contam(self, meta, settings: RunSettings, pipeline, estimate, limit: float):
        """Above memory_limit, wfss_contam in one process (the same result: its workers each hold a
        chunk more), applied and logged. A smaller chunk is only said, with the other lighter
        settings: each chunk takes its wavelength grid from its first pixel, so the chunk size moves
        the contamination model slightly (jwst #9950)."""
        if not _runs_in_several_processes(settings.wfss_contam_maximum_cores):
            return estimate
        lowered = estimate_level2(meta, dataclasses.replace(settings, wfss_contam_maximum_cores="none"),
                                  self.upper_quantile)
        pipeline.wfss_contam.maximum_cores = "none"
        log.warning("upper bound %.3f GB above memory_limit %.3f GB: wfss_contam run in one process "
                    "(maximum_cores=none); upper bound now %.3f GB", estimate.upper_gb, limit, lowered.upper_gb)
        self.estimation = [lowered]
        return lowered

    def _detector1_hook(self, ramp, pipeline) -> None:
        """As a pre-hook of calwebb_detector1 (or of one of its steps): estimate the run from the
        uncal's header or the open ramp's meta; above memory_limit, run jump and ramp_fit in one
        process (their workers each hold a slice more)."""
        from jwst_memest.metadata import metadata_from_datamodel, read_exposure_metadata

        settings = RunSettings.from_pipeline(pipeline)
        meta = read_exposure_metadata(ramp) if isinstance(ramp, (str, Path)) else metadata_from_datamodel(ramp)
        estimate = estimate_from_metadata(meta, settings, self.upper_quantile)
        limit = self._memory_limit()
        self.estimation = estimate
        log.info("calwebb_detector1 memory estimate: %.3f GB (upper bound %.3f GB), peak in %s",
                 estimate.gb, estimate.upper_gb, estimate.peak_step)
        multiprocess = [step for step in ("jump", "ramp_fit")
                        if _runs_in_several_processes(getattr(settings, f"{step}_maximum_cores"))]
        if estimate.upper_gb > limit and multiprocess:
            for step in multiprocess:
                setattr(getattr(pipeline, step), "maximum_cores", "none")
            lowered = estimate_from_metadata(meta, dataclasses.replace(
                settings, **{f"{step}_maximum_cores": "none" for step in multiprocess}), self.upper_quantile)
            log.warning("upper bound %.3f GB above memory_limit %.3f GB: %s run in one process (maximum_cores=none); "
                        "upper bound now %.3f GB", estimate.upper_gb, limit, " and ".join(multiprocess), lowered.upper_gb)
            self.estimation = lowered
        elif estimate.upper_gb > limit:
            log.warning("upper bound %.3f GB above memory_limit %.3f GB; no setting of this pipeline lowers it",
                        estimate.upper_gb, limit)
        return None

    def _search_path(self) -> list[str]:
        value = self.search_path or ""
        if isinstance(value, (list, tuple)):  # from Python callers
            return [str(v) for v in value]
        return [part for part in value.split(os.pathsep) if part]

    def _run_settings(self) -> RunSettings:
        """The settings of the Level-3 run being sized: the host pipeline's (as a hook), then the
        parameter file's, then the arguments', then this step's own in_memory."""
        settings = RunSettings.from_pipeline(self.parent) if self.parent is not None else RunSettings()
        if self.pipeline_config:
            path = os.path.expandvars(os.path.expanduser(self.pipeline_config))
            settings = _settings_or_error(lambda: RunSettings.from_parameter_file(path, settings), "pipeline_config")
        if self.pipeline_arguments:
            arguments = shlex.split(self.pipeline_arguments)
            settings = _settings_or_error(lambda: RunSettings.from_arguments(arguments, settings), "pipeline_arguments")
        if self.in_memory is not None:
            settings = dataclasses.replace(settings, in_memory=bool(self.in_memory))
        return settings

    def _apply_savings(self) -> bool:
        # opt-in: these settings change the products (no context image, no err, no source catalog)
        if self.apply_savings is not None:
            return bool(self.apply_savings)
        text = os.environ.get("JWST_MEMEST_APPLY_SAVINGS", "").strip()
        if not text:
            return False
        try:
            return parse_boolean(text)
        except ValueError:
            raise MemoryEstimateError(f"$JWST_MEMEST_APPLY_SAVINGS={text!r}: must be true or false") from None

    def _memory_limit(self) -> float:
        # A hook's parameters cannot be set from the host's command line: the environment can.
        if self.memory_limit:
            return float(self.memory_limit)
        from_env = _gb_from_environment("JWST_MEMEST_MEMORY_LIMIT")
        return from_env if from_env is not None else available_memory_gb()

    def _max_request_gb(self) -> float | None:
        if self.max_request_gb:
            return float(self.max_request_gb)
        return _gb_from_environment("JWST_MEMEST_MAX_REQUEST_GB")

    def _output_path(self, result) -> Path:
        if self.inplace and result.path is not None:
            return result.path
        stem = result.path.stem if result.path is not None else (result.products[0].product if result.products else "association")
        directory = self.output_dir or getattr(self.parent, "output_dir", None) or "."
        if self.output_file:
            name = Path(Path(self.output_file).name)  # stpipe makes it absolute; output_dir decides
            return Path(directory) / (name if name.suffix == ".json" else name.with_suffix(".json"))
        return Path(directory) / f"{stem}_memest.json"

    def _write(self, result) -> None:
        path = self._output_path(result)
        try:
            write_json_atomic(annotate_association(result.raw, result.products, result.failures), path)
        except OSError as exc:
            raise MemoryEstimateError(f"{path}: cannot write the annotated association ({exc.strerror or exc})") from None
        self.written_path = path
        log.info("Annotated association written to %s", path)

    @staticmethod
    def _log_table(products) -> None:
        log.info("Memory estimates (GB = 1e9 bytes, upper bound at quantile %s):\n%s",
                 products[0].quantile if products else "", estimate_table(products))
        for p in products:
            for warning in p.warnings:
                log.warning("%s: %s", p.product, warning)


def _runs_in_several_processes(maximum_cores) -> bool:
    """Whether a step's ``maximum_cores`` makes it spawn workers on this machine (``quarter`` of two
    cores, ``1`` or ``None`` do not); a value jwst would refuse lowers nothing here: jwst says why."""
    from jwst_memest.model.detector1 import worker_processes

    try:
        return worker_processes(maximum_cores) > 1
    except ValueError:
        return False


def _is_level2_file(path) -> bool:
    """Whether ``path`` is a readable Level-2 association (anything else is checked as Level 3)."""
    from jwst_memest.association import is_level2_association, read_association_json

    try:
        return is_level2_association(read_association_json(path)[1])
    except AssociationError:
        return False


def _settings_or_error(make, where: str) -> RunSettings:
    try:
        return make()
    except SettingsError as exc:
        raise MemoryEstimateError(f"{where}: {exc}") from None


def _gb_from_environment(name: str) -> float | None:
    """A size in GB from an environment variable (unset or empty: None); anything else is one clear error."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise MemoryEstimateError(f"${name}={text!r}: expected a size in GB, a number of at least 0")
    return value


_KIND = {"float": "a number", "integer": "an integer", "boolean": "true or false", "string": "a string"}


def describe_check(check: str) -> str:
    """What a configobj check such as ``float(default=0.95, min=0.5, max=1.0)`` accepts, in words.

    Parameters
    ----------
    check : str
        A parameter's check from the step's spec.

    Returns
    -------
    str
        E.g. "a number from 0.5 to 1.0".
    """
    kind, _, arguments = check.partition("(")
    bounds = dict(re.findall(r"\b(min|max)\s*=\s*([^,)\s]+)", arguments))
    allowed = _KIND.get(kind.strip(), kind.strip())
    if "min" in bounds and "max" in bounds:
        return f"{allowed} from {bounds['min']} to {bounds['max']}"
    if "min" in bounds:
        return f"{allowed} of at least {bounds['min']}"
    if "max" in bounds:
        return f"{allowed} of at most {bounds['max']}"
    return allowed


def _parameter_error(validation_message: str, config, spec) -> str:
    """One line naming each refused parameter, its value and what it accepts."""
    problems = []
    for line in validation_message.splitlines():
        refused = re.match(r"Config parameter '([^']+)': ", line)
        if refused and refused.group(1) in spec:
            key = refused.group(1)
            problems.append(f"{key}={config.get(key)}: must be {describe_check(spec[key])}")
        elif line.strip():
            problems.append(line.strip())
    return "; ".join(problems)
