"""Fail every test during which the recorder logged an internal error.

The recorder (the tracing API, the SDK instrumentation) and the writer never
raise into the host: their own failures are only logged, on the package
logger with the exception attached. So a test whose recording broke half-way
could still pass, hiding the bug. This plugin (``pytest_plugins`` in
tests/conftest.py) listens on that logger during each test and fails the test
if such a record came. A test that makes the recorder fail on purpose says so
and why: ``@pytest.mark.recorder_errors("the database is cut mid-flush")``;
that test fails if no such record came, so the mark cannot outlive its reason.

The batch jobs log operational failures (a provider down, a handler raising)
on loggers below the package's; those are the app's news, not our bugs, and
do not count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from flask_llm_logs.log import NAME
from flask_llm_logs.log import get_logger

MARKER = "recorder_errors"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason): the test makes the recorder log an internal error on purpose;"
        " the reason says how and why",
    )


class InternalErrors(logging.Handler):
    """Keeps what the package logger itself logs with an exception attached."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == NAME and record.exc_info:
            self.records.append(record)


def _reason(marker: pytest.Mark) -> str:
    reason = marker.args[0] if marker.args else ""
    if not isinstance(reason, str) or not reason.strip():
        pytest.fail(
            f"@pytest.mark.{MARKER} needs a reason: how and why the test makes the recorder"
            ' fail, e.g. @pytest.mark.recorder_errors("the database is cut mid-flush")',
            pytrace=False,
        )
    return reason


@pytest.fixture(autouse=True)
def fail_on_recorder_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Set up before, and torn down after, the test's other fixtures, so that
    what the writer logs while an app shuts down counts too."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        _reason(marker)
    logger = get_logger()
    handler = InternalErrors()
    level = logger.level
    # After the first, the recorder logs its errors at DEBUG (a warning a
    # minute at most): let those reach the handler too.
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if marker is not None and not handler.records:
        pytest.fail(
            f"marked @pytest.mark.{MARKER} but the recorder logged no internal error:"
            " remove the mark, it would hide the next recorder bug in this test",
            pytrace=False,
        )
    if marker is None and handler.records:
        formatter = logging.Formatter("%(levelname)s %(name)s (%(threadName)s): %(message)s")
        logged = "\n".join(formatter.format(record) for record in handler.records)
        pytest.fail(
            f"the recorder logged {len(handler.records)} internal error(s) during the test"
            f" (a test that causes them on purpose is marked"
            f' @pytest.mark.{MARKER}("why")):\n{logged}',
            pytrace=False,
        )
