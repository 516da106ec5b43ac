"""Saves and syncs from several processes and threads at once: no duplicate or lost versions."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import scoped_session

from flask_llm_logs import Prompt
from flask_llm_logs.models import PromptVersion
from tests.helpers.prompts import current_version

#: A separate Python process: its own app, engine and connections.
WORKER = textwrap.dedent(
    """
    import json, sys, time
    from flask import Flask
    from flask_llm_logs import LlmLogs, Prompt
    from flask_llm_logs.prompts.sync import sync_prompts

    url, start, job, arg = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
    app = Flask("worker")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    LlmLogs(app)
    with app.app_context():
        prompt = Prompt.load("shared", cache=False) if job == "save" else None
        time.sleep(max(0.0, start - time.time()))
        if job == "save":
            for i in range(10):
                prompt.update_content(messages=[{"role": "user", "content": f"{arg}-{i}"}])
        else:
            report = sync_prompts(arg)
            print(json.dumps([change.action for change in report.changes]))
    """
)


def run_workers(database_url: str, job: str, args: list[str]) -> list[str]:
    start = time.time() + 4  # every process is up and waiting by then
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, database_url, str(start), job, arg],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for arg in args
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(out)
    return outputs


def versions(db_session: scoped_session[Any]) -> list[tuple[int, str]]:
    db_session.rollback()
    rows = db_session.execute(
        sa.select(PromptVersion.version_number, PromptVersion.messages).order_by(
            PromptVersion.version_number
        )
    )
    return [(number, messages[0]["content"]) for number, messages in rows]


def test_processes_saving_one_prompt_get_unique_numbers(
    app: Flask, db_session: scoped_session[Any], database_url: str
) -> None:
    Prompt.create(slug="shared", name="Shared")
    run_workers(database_url, "save", ["a", "b", "c"])
    saved = versions(db_session)
    assert [number for number, _ in saved] == list(range(1, 31))
    assert sorted(content for _, content in saved) == sorted(
        f"{worker}-{i}" for worker in "abc" for i in range(10)
    )
    # Each process's own saves kept their order.
    for worker in "abc":
        mine = [content for _, content in saved if content.startswith(worker)]
        assert mine == [f"{worker}-{i}" for i in range(10)]
    assert current_version(Prompt.load("shared", cache=False)).version_number == 30


def test_threads_saving_one_prompt_get_unique_numbers(
    app: Flask, db_session: scoped_session[Any]
) -> None:
    Prompt.create(slug="shared", name="Shared")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def save(worker: int) -> None:
        try:
            with app.app_context():
                prompt = Prompt.load("shared", cache=False)
                barrier.wait()
                for i in range(5):
                    prompt.update_content(messages=[{"role": "user", "content": f"{worker}-{i}"}])
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    saved = versions(db_session)
    assert [number for number, _ in saved] == list(range(1, 31))
    assert len({content for _, content in saved}) == 30


def test_concurrent_syncs_leave_one_set_of_versions(
    app: Flask, db_session: scoped_session[Any], database_url: str, prompts_dir: Path
) -> None:
    outputs = run_workers(database_url, "sync", [str(prompts_dir), str(prompts_dir)])
    actions = sorted(tuple(sorted(set(json.loads(out)))) for out in outputs)
    assert actions == [("created",), ("unchanged",)]
    per_prompt = db_session.execute(
        sa.select(PromptVersion.prompt_id, sa.func.count()).group_by(PromptVersion.prompt_id)
    ).all()
    assert len(per_prompt) == 6
    assert {count for _, count in per_prompt} == {1}

    memo = prompts_dir / "templates" / "trading_memo_user.md"
    memo.write_text(memo.read_text() + "\nKeep it under 200 words.\n")
    outputs = run_workers(database_url, "sync", [str(prompts_dir), str(prompts_dir)])
    assert sorted(json.loads(out).count("updated") for out in outputs) == [0, 1]
    assert current_version(Prompt.load("trading-memo", cache=False)).version_number == 2
    assert len(Prompt.load("trading-memo", cache=False).versions) == 2
