"""Every module logs through ``logging.getLogger(__name__)`` (jwst's convention), and the step's log
reaches stpipe's handlers standalone and as a hook."""

import ast
import logging
from pathlib import Path

import jwst_memest
from jwst_memest.step import MemoryEstimateStep, _logging_through_stpipe

PACKAGE = Path(jwst_memest.__file__).parent


def _named_loggers(source: str) -> list[str]:
    """``getLogger("...")`` calls naming this package's loggers or one inside stpipe's (a hand-written
    name); naming another library's logger to configure it (``"tensorflow"``, ``"stpipe"``) is not one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "getLogger" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            name = node.args[0].value
            if name.split(".")[0] == "jwst_memest" or name.startswith("stpipe."):
                found.append(f"line {node.lineno}: getLogger({name!r})")
    return found


def test_no_module_writes_its_logger_name_by_hand():
    named = {str(p.relative_to(PACKAGE)): found for p in PACKAGE.rglob("*.py") if (found := _named_loggers(p.read_text()))}
    assert named == {}


def test_the_check_sees_a_hand_written_name():
    assert _named_loggers('import logging\nlog = logging.getLogger("stpipe.jwst_memest")\n') == [
        "line 2: getLogger('stpipe.jwst_memest')"]
    assert _named_loggers('from logging import getLogger\nlog = getLogger("jwst_memest.tables")\n') == [
        "line 2: getLogger('jwst_memest.tables')"]
    assert _named_loggers('import logging\nlog = logging.getLogger(__name__)\n'
                          'logging.getLogger("tensorflow").setLevel(40)\n') == []


def test_stpipe_configures_the_package_loggers_when_it_runs_the_step():
    loggers = MemoryEstimateStep.get_stpipe_loggers()
    assert "jwst_memest" in loggers and "jwst" in loggers and "stpipe" in loggers


def test_as_a_hook_the_package_records_reach_the_host_log():
    """The host configures stpipe's logger only: the package's INFO records pass through it, once."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    host, package = logging.getLogger("stpipe"), logging.getLogger("jwst_memest")
    keep, level = Keep(), host.level
    host.addHandler(keep)
    host.setLevel(logging.INFO)
    try:
        with _logging_through_stpipe():
            logging.getLogger("jwst_memest.hosting").info("switched")
        logging.getLogger("jwst_memest.hosting").info("after the hook")
    finally:
        host.removeHandler(keep)
        host.setLevel(level)
    assert records == ["switched"]
    assert package.level == logging.NOTSET and package.propagate and not package.handlers


def test_the_hook_log_shows_the_estimates_under_strun(image3_with_the_hook):
    """``strun calwebb_image3 <asn> --pre_hooks=jwst_memest.MemoryEstimateStep,`` (conftest runs it once)."""
    result = image3_with_the_hook[3]
    log = result.stdout + result.stderr
    assert "Step memory_estimate done" in log
    assert log.count("Memory estimates") == 1  # the step's INFO table, from logger jwst_memest.step, once
