"""Before ``flask llm-logs db upgrade``, or behind the package: one line everywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

import flask_llm_logs
from flask_llm_logs import LlmLogs
from flask_llm_logs import migrations
from flask_llm_logs.migrations.status import UPGRADE_COMMAND
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state

EXAMPLE_PROMPTS = Path(__file__).parents[1] / "examples" / "prompts"


@pytest.fixture
def make_empty_app(empty_database_url: str, tmp_path: Path) -> Iterator[Callable[[], Flask]]:
    """An app whose database has none of the extension's tables yet."""
    apps: list[Flask] = []

    def make() -> Flask:
        app = Flask("not_upgraded", instance_path=str(tmp_path / "instance"))
        app.config.update(
            TESTING=True,
            SECRET_KEY="test-secret",
            SQLALCHEMY_DATABASE_URI=empty_database_url,
            LLM_LOGS_WRITER_FLUSH_INTERVAL=0.05,
        )
        LlmLogs(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        state = get_state(app)
        state.shutdown()
        with app.app_context():
            for engine in state.db.engines.values():
                engine.dispose()


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_db_check_exits_1_until_the_database_is_at_head(
    make_empty_app: Callable[[], Flask],
) -> None:
    app = make_empty_app()
    code, output = invoke(app, "llm-logs", "db", "check")
    assert code == 1
    assert f"do not exist yet: run `{UPGRADE_COMMAND}`" in output

    assert invoke(app, "llm-logs", "db", "upgrade")[0] == 0
    code, output = invoke(app, "llm-logs", "db", "check")
    assert code == 0, output
    assert "at head" in output

    assert invoke(app, "llm-logs", "db", "downgrade", "0001")[0] == 0
    code, output = invoke(app, "llm-logs", "db", "check")
    assert code == 1
    assert "at revision 0001" in output
    assert UPGRADE_COMMAND in output


def test_db_check_says_when_the_database_is_newer_than_the_package(
    make_empty_app: Callable[[], Flask],
) -> None:
    app = make_empty_app()
    assert invoke(app, "llm-logs", "db", "upgrade")[0] == 0
    with get_state(app).engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '9999'"))
    code, output = invoke(app, "llm-logs", "db", "check")
    assert code == 1
    assert "at revision 9999, which this version of flask-llm-logs does not know" in output


@pytest.mark.parametrize(
    "command",
    [
        ["sync-prompts", "--path", str(EXAMPLE_PROMPTS)],
        ["purge"],
        ["batches", "flush"],
        ["batches", "poll"],
        ["batches", "retry", "--failed"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_cli_commands_say_to_upgrade_in_one_line(
    make_empty_app: Callable[[], Flask], command: list[str]
) -> None:
    app = make_empty_app()
    # An app context: `batches` is a plain click group for now (issue 13, point 11).
    with app.app_context():
        code, output = invoke(app, "llm-logs", *command)
    assert code == 1
    assert output == f"Error: the flask-llm-logs tables do not exist yet: run `{UPGRADE_COMMAND}`\n"


@pytest.mark.parametrize(
    "path", ["/llm_logs/", "/llm_logs/traces", "/llm_logs/prompts", "/llm_logs/batches"]
)
def test_ui_pages_say_to_upgrade_with_a_503(make_empty_app: Callable[[], Flask], path: str) -> None:
    app = make_empty_app()
    response = app.test_client().get(path, follow_redirects=True)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert UPGRADE_COMMAND in page
    assert "do not exist yet" in page
    for leak in ("Traceback", "SELECT", "sqlalchemy"):
        assert leak not in page


def test_ui_still_fails_loudly_on_other_database_errors(make_app: Callable[..., Flask]) -> None:
    """Only a missing schema becomes the 503 page: other errors are not hidden behind it."""
    app = make_app()

    @app.before_request
    def broken_query() -> None:
        with get_state(app).engine.connect() as connection:
            connection.execute(sa.text("SELECT 1/0 FROM no_such_thing_here_at_all"))

    with pytest.raises(sa.exc.DBAPIError):
        app.test_client().get("/llm_logs/")


def test_the_writer_logs_once_and_stores_after_the_upgrade(
    make_empty_app: Callable[[], Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_empty_app()
    caplog.set_level(logging.DEBUG, logger="flask_llm_logs")
    with app.app_context():
        with flask_llm_logs.trace("before the upgrade"):
            pass
        assert not get_state(app).writer.flush(1.5)
        with flask_llm_logs.trace("also before the upgrade"):
            pass
        assert not get_state(app).writer.flush(1.5)

    said = [record.getMessage() for record in caplog.records]
    assert [line for line in said if UPGRADE_COMMAND in line] == [
        f"flask-llm-logs: records wait until the tables exist: the flask-llm-logs tables"
        f" do not exist yet: run `{UPGRADE_COMMAND}`"
    ]
    assert not [record for record in caplog.records if record.exc_info]
    assert not [line for line in said if "INSERT" in line]

    assert invoke(app, "llm-logs", "db", "upgrade")[0] == 0
    with app.app_context():
        assert get_state(app).writer.flush(15)
        names = {trace.name for trace in get_state(app).session.query(Trace)}
    assert names == {"before the upgrade", "also before the upgrade"}
    assert get_state(app).writer.stats()["dropped"] == 0
