"""The suite cannot pass over a recorder bug: tests/helpers/recorder_errors.py."""

from __future__ import annotations

import pytest

INNER_TESTS = """
import logging

import pytest

from flask_llm_logs.log import get_logger
from flask_llm_logs.tracing.recorder import log_recorder_error


def recorder_bug():
    try:
        raise RuntimeError("a bug in the recorder")
    except RuntimeError:
        log_recorder_error()


def test_recorder_error():
    recorder_bug()


def test_recorder_error_within_the_minute():
    recorder_bug()  # logged at DEBUG now: still a bug


def test_writer_error():
    try:
        raise ValueError("a bug in the writer")
    except ValueError:
        get_logger().exception("flask-llm-logs: could not store %d records", 3)


@pytest.mark.recorder_errors("the test breaks the recorder on purpose")
def test_marked():
    recorder_bug()


@pytest.mark.recorder_errors
def test_marked_without_a_reason():
    recorder_bug()


@pytest.mark.recorder_errors("the recorder used to fail here")
def test_marked_but_nothing_failed():
    pass


def test_warnings_and_batch_failures_are_not_recorder_bugs():
    get_logger().warning("flask-llm-logs: records were dropped")
    try:
        raise ConnectionError("the provider is down")
    except ConnectionError:
        get_logger("flask_llm_logs.batches.poll").warning("polling failed", exc_info=True)
"""


@pytest.mark.recorder_errors("runs tests that log recorder errors, in this process")
def test_a_test_fails_when_the_recorder_logged_an_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["tests.helpers.recorder_errors"]')
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", "-rA")

    result.assert_outcomes(passed=6, errors=5)
    result.stdout.fnmatch_lines_random(
        [
            "ERROR test_inner.py::test_recorder_error - *",
            "ERROR test_inner.py::test_recorder_error_within_the_minute - *",
            "ERROR test_inner.py::test_writer_error - *",
            "ERROR test_inner.py::test_marked_without_a_reason - *",
            "ERROR test_inner.py::test_marked_but_nothing_failed - *",
            "PASSED test_inner.py::test_marked",
            "PASSED test_inner.py::test_warnings_and_batch_failures_are_not_recorder_bugs",
        ]
    )
    output = result.stdout.str()
    # Once per failing test in the errors section; the short summary may repeat it.
    assert output.count("the recorder logged 1 internal error(s) during the test") >= 3
    assert "RuntimeError: a bug in the recorder" in output
    assert "@pytest.mark.recorder_errors needs a reason" in output
    assert "the recorder logged no internal error: remove the mark" in output
