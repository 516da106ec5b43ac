"""The writer's warnings: at most once a minute, and heard after Alembic's fileConfig."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from flask_llm_logs.models import Span
from flask_llm_logs.state import get_state
from tests.helpers.writer import span_record
from tests.helpers.writer import stored
from tests.helpers.writer import submit
from tests.helpers.writer import trace_record

#: What ``alembic init`` and ``flask db init`` write to ``alembic.ini``, in short.
ALEMBIC_INI = """
[loggers]
keys = root,sqlalchemy,alembic
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
level = WARNING
handlers = console
[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine
[logger_alembic]
level = INFO
handlers =
qualname = alembic
[handler_console]
class = NullHandler
args = ()
formatter = generic
[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def after_alembic_file_config(tmp_path: Path) -> Iterator[Collect]:
    """Run the ``fileConfig`` of an Alembic ``env.py``; restore logging afterwards."""
    root = logging.getLogger()
    saved_root = (root.level, root.handlers[:])
    loggers = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.disabled, logger.level, logger.handlers[:]) for logger in loggers]
    ini = tmp_path / "alembic.ini"
    ini.write_text(ALEMBIC_INI)
    logging.getLogger("flask_llm_logs")  # exists before, as in a host app
    logging.config.fileConfig(ini)
    assert logging.getLogger("flask_llm_logs").disabled  # what used to silence us
    collect = Collect()
    root.addHandler(collect)
    yield collect
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for logger, disabled, level, handlers in saved:
        logger.disabled, logger.level, logger.handlers[:] = disabled, level, handlers


def test_queue_overflow_warns_once_even_after_alembic_file_config(
    make_app: Callable[..., Flask], after_alembic_file_config: Collect
) -> None:
    app = make_app(LLM_LOGS_MAX_QUEUE=5, LLM_LOGS_WRITER_FLUSH_INTERVAL=30)
    start = trace_record()
    records = [span_record(start.id) for _ in range(20)]
    submit(app, start, *records)
    writer = get_state(app).writer
    assert writer.flush(10)
    assert writer.stats()["dropped"] == 16
    assert len(stored(app, Span)) == 4

    submit(app, *(span_record(start.id) for _ in range(20)))  # more drops, same minute
    assert writer.flush(10)
    assert writer.stats()["dropped"] == 31

    warnings = [r for r in after_alembic_file_config.records if r.name == "flask_llm_logs"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    message = warnings[0].getMessage()
    assert "LLM_LOGS_MAX_QUEUE=5" in message
    assert "16 records dropped so far" in message
