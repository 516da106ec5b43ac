"""Fixtures for the prompt tests: a copy of the example prompts folder and a CLI runner."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy.orm import scoped_session

from flask_llm_logs.state import get_state

EXAMPLES = Path(__file__).parents[2] / "examples" / "prompts"


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """A writable copy of ``examples/prompts`` (skills, fragments, templates)."""
    target = tmp_path / "prompts"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.fixture
def sync_app(make_app: Callable[..., Flask], prompts_dir: Path) -> Iterator[Flask]:
    """An app whose ``LLM_LOGS_PROMPTS_SOURCE_PATH`` is the copied folder (context pushed)."""
    app = make_app(LLM_LOGS_PROMPTS_SOURCE_PATH=str(prompts_dir))
    with app.app_context():
        yield app


@pytest.fixture
def sync_session(sync_app: Flask) -> scoped_session[Any]:
    return get_state(sync_app).session


@pytest.fixture
def run_sync(sync_app: Flask) -> Callable[..., Result]:
    """Run ``flask llm-logs sync-prompts`` with extra arguments."""

    def run(*args: Any) -> Result:
        return sync_app.test_cli_runner().invoke(args=["llm-logs", "sync-prompts", *map(str, args)])

    return run
