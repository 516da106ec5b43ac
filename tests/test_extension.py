from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_llm_logs import ConfigurationError
from flask_llm_logs import LlmLogs
from flask_llm_logs import trace
from flask_llm_logs.config import DEFAULTS
from flask_llm_logs.models import Trace


def test_defaults_are_documented_values(app: Flask) -> None:
    config = app.config
    assert config["LLM_LOGS_ENABLED"] is True
    assert config["LLM_LOGS_AUTO_INSTRUMENT"] is True
    assert config["LLM_LOGS_RETENTION_DAYS"] == 30
    assert config["LLM_LOGS_PROMPTS_SOURCE_PATH"] is None
    assert config["LLM_LOGS_PROMPT_SUBFOLDERS"] == ["skills", "fragments", "templates"]
    assert config["LLM_LOGS_BATCH_ENABLED"] is True
    assert config["LLM_LOGS_BATCH_PROVIDER"] == "openai_responses"
    assert config["LLM_LOGS_PAGE_SIZE"] == 50
    assert config["LLM_LOGS_URL_PREFIX"] == "/llm_logs"
    assert "llm_logs" in app.extensions


def test_bare_app_defaults_for_the_queue(tmp_path: Path) -> None:
    app = Flask("bare", instance_path=str(tmp_path))
    LlmLogs(app)
    state = app.extensions["llm_logs"]
    assert app.config["LLM_LOGS_REDIS_URL"] is None
    assert app.config["LLM_LOGS_QUEUE"] == "llm_logs"
    assert state.settings.redis_url == "redis://127.0.0.1:6379/0"
    assert app.config["LLM_LOGS_BIND_KEY"] is None
    state.shutdown()


def test_apps_do_not_share_mutable_defaults(tmp_path: Path) -> None:
    first, second = (Flask(name, instance_path=str(tmp_path)) for name in ("first", "second"))
    LlmLogs(first)
    first.config["LLM_LOGS_PROMPT_SUBFOLDERS"].append("agents")
    LlmLogs(second)
    assert second.config["LLM_LOGS_PROMPT_SUBFOLDERS"] == ["skills", "fragments", "templates"]
    for app in (first, second):
        app.extensions["llm_logs"].shutdown()


def test_every_key_is_documented_with_its_default() -> None:
    text = (Path(__file__).parents[1] / "docs" / "configuration.rst").read_text()
    rows = re.findall(r"\* - ``(LLM_LOGS_\w+)``\n\s+- ``(.+?)``\n", text)
    documented = {key: eval(default, {"timedelta": dt.timedelta}) for key, default in rows}
    assert documented == DEFAULTS


def test_init_app_twice_is_refused(app: Flask) -> None:
    with pytest.raises(RuntimeError, match="already initialised"):
        LlmLogs(app)


def test_app_factory_pattern(database_url: str) -> None:
    llm_logs = LlmLogs()
    apps = []
    for name in ("one", "two"):
        app = Flask(name)
        app.config["SQLALCHEMY_DATABASE_URI"] = database_url
        llm_logs.init_app(app)
        apps.append(app)
    assert apps[0].extensions["llm_logs"] is not apps[1].extensions["llm_logs"]
    for app in apps:
        app.extensions["llm_logs"].shutdown()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LLM_LOGS_BATCH_PROVIDER", "carrier_pigeon"),
        ("LLM_LOGS_PAGE_SIZE", 0),
        ("LLM_LOGS_PAGE_SIZE", -5),
        ("LLM_LOGS_PROMPTS_SOURCE_PATH", "/definitely/not/a/folder"),
        ("LLM_LOGS_RETENTION_DAYS", "thirty"),
        ("LLM_LOGS_REDACT", "not callable"),
        # Read live later, but checked at start-up too.
        ("LLM_LOGS_PROMPT_CACHE_TTL", -1),
        ("LLM_LOGS_BATCH_STALE_CLAIM_AFTER", 0),
        ("LLM_LOGS_BATCH_LOST_AFTER", -60),
        ("LLM_LOGS_BATCH_LOST_AFTER", "1h"),
        ("LLM_LOGS_WRITER_THREADS", 0),
        ("LLM_LOGS_WRITER_THREADS", "2"),
        ("LLM_LOGS_WRITER_THREADS", True),
    ],
)
def test_bad_configuration_names_the_key(key: str, value: Any) -> None:
    app = Flask("bad")
    app.config[key] = value
    with pytest.raises(ConfigurationError, match=key):
        LlmLogs(app)
    assert "llm_logs" not in app.extensions


def test_a_batch_backend_added_to_the_registry_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_llm_logs.batches.adapters import ADAPTERS
    from flask_llm_logs.batches.adapters import OpenAIResponsesAdapter

    monkeypatch.setitem(ADAPTERS, "in_house", OpenAIResponsesAdapter)
    app = Flask("in_house", instance_path=str(tmp_path))
    app.config["LLM_LOGS_BATCH_PROVIDER"] = "in_house"
    LlmLogs(app)
    assert app.extensions["llm_logs"].settings.batch_provider == "in_house"


def test_prompts_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prompts.md"
    path.write_text("not a folder")
    app = Flask("bad")
    app.config["LLM_LOGS_PROMPTS_SOURCE_PATH"] = str(path)
    with pytest.raises(ConfigurationError, match="LLM_LOGS_PROMPTS_SOURCE_PATH"):
        LlmLogs(app)


def test_uses_the_hosts_sqlalchemy(database_url: str) -> None:
    db = SQLAlchemy()
    app = Flask("host")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db.init_app(app)
    LlmLogs(app)
    state = app.extensions["llm_logs"]
    assert state.db is db
    with app.app_context():
        db.session.add(Trace(name="through the host session"))
        db.session.commit()
        assert db.session.query(Trace).one().name == "through the host session"
    state.shutdown()


def test_brings_its_own_sqlalchemy_on_sqlite_by_default(tmp_path: Path) -> None:
    app = Flask("bare", instance_path=str(tmp_path))
    LlmLogs(app)
    state = app.extensions["llm_logs"]
    assert isinstance(state.db, SQLAlchemy)
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:")
    state.shutdown()


def test_separate_logs_database_through_a_bind_key(database_url: str, tmp_path: Path) -> None:
    app = Flask("binds")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    app.config["SQLALCHEMY_BINDS"] = {"logs": database_url}
    app.config["LLM_LOGS_BIND_KEY"] = "logs"
    LlmLogs(app)
    state = app.extensions["llm_logs"]
    try:
        with app.app_context():
            assert str(state.engine.url) == str(state.db.engines["logs"].url)
            state.session.add(Trace(name="in the logs database"))
            state.session.commit()
            assert state.session.query(Trace).count() == 1
    finally:
        state.shutdown()


def test_bind_key_migrations_and_writer_use_the_logs_database(tmp_path: Path) -> None:
    app_url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    logs_url = f"sqlite:///{tmp_path / 'logs.sqlite3'}"
    app = Flask("binds", instance_path=str(tmp_path))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=app_url,
        SQLALCHEMY_BINDS={"logs": logs_url},
        LLM_LOGS_BIND_KEY="logs",
    )
    LlmLogs(app)
    state = app.extensions["llm_logs"]
    try:
        result = app.test_cli_runner().invoke(args=["llm-logs", "db", "upgrade"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            with trace("stored in the logs database"):
                pass
            assert state.writer.flush(10)
        logs, main = sa.create_engine(logs_url), sa.create_engine(app_url)
        with logs.connect() as connection:
            names = connection.scalars(sa.select(Trace.__table__.c.name)).all()
        assert names == ["stored in the logs database"]
        assert sa.inspect(main).get_table_names() == []
        logs.dispose()
        main.dispose()
    finally:
        state.shutdown()


def test_two_apps_with_different_bind_keys_each_use_their_own_logs_database(
    tmp_path: Path,
) -> None:
    """The bind key is the app's, not the last initialised app's (it was stored on the
    metadata every app shares)."""
    urls = {name: f"sqlite:///{tmp_path / f'{name}.sqlite3'}" for name in ("a", "b")}
    apps = []
    for name, url in urls.items():
        app = Flask(f"app_{name}", instance_path=str(tmp_path))
        app.config.update(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / f'main_{name}.sqlite3'}",
            SQLALCHEMY_BINDS={f"logs_{name}": url},
            LLM_LOGS_BIND_KEY=f"logs_{name}",
        )
        LlmLogs(app)
        result = app.test_cli_runner().invoke(args=["llm-logs", "db", "upgrade"])
        assert result.exit_code == 0, result.output
        apps.append(app)
    try:
        for app in apps:  # the ORM path (the UI, batches): db.session picks the engine
            with app.app_context():
                state = app.extensions["llm_logs"]
                state.session.add(Trace(name=f"orm {app.name}"))
                state.session.commit()
                with trace(f"writer {app.name}"):  # the writer's path
                    pass
                assert state.writer.flush(10)
        for name, url in urls.items():
            engine = sa.create_engine(url)
            with engine.connect() as connection:
                names = connection.scalars(sa.select(Trace.__table__.c.name)).all()
            engine.dispose()
            assert sorted(names) == [f"orm app_{name}", f"writer app_{name}"]
    finally:
        for app in apps:
            app.extensions["llm_logs"].shutdown()
