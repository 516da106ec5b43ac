"""Files and database in step: the source of each synced prompt, ``--check``, ``export-prompts``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from sqlalchemy.orm import scoped_session

from flask_llm_logs import Prompt
from flask_llm_logs.models import PromptVersion
from tests.helpers.prompts import current_version

RunSync = Callable[..., Result]

EXAMPLE_SLUGS = {
    "backtest-evaluation",
    "output-format",
    "provider-notes",
    "risk-disclaimer",
    "strategy-analysis",
    "trading-memo",
}


def export(app: Flask, *args: Any) -> Result:
    return app.test_cli_runner().invoke(args=["llm-logs", "export-prompts", *map(str, args)])


def version_count(session: scoped_session[Any]) -> int:
    session.rollback()
    return int(session.scalar(sa.select(sa.func.count()).select_from(PromptVersion)) or 0)


def test_sync_records_the_file_and_its_hash(run_sync: RunSync, prompts_dir: Path) -> None:
    run_sync()
    skill = Prompt.load("backtest-evaluation", cache=False)
    assert skill.source_path == "skills/backtest-evaluation.md"
    file = (prompts_dir / "skills" / "backtest-evaluation.md").read_bytes()
    assert skill.source_hash == hashlib.sha256(file).hexdigest()

    # A body file is part of what the hash covers.
    memo = Prompt.load("trading-memo", cache=False)
    assert memo.source_path == "templates/trading-memo.md"
    before = memo.source_hash
    body = prompts_dir / "templates" / "trading_memo_user.md"
    body.write_text(body.read_text() + "\n")  # stripped: the same content
    result = run_sync()
    assert "unchanged  trading-memo  [templates/trading-memo.md]" in result.output
    after = Prompt.load("trading-memo", cache=False).source_hash
    assert after is not None and after != before

    # Prompts made through the API come from no file.
    assert Prompt.create("api-made", "API").source_path is None


def test_check_lists_prompts_that_differ_and_changes_nothing(
    run_sync: RunSync, prompts_dir: Path, sync_session: scoped_session[Any]
) -> None:
    result = run_sync("--check")
    assert result.exit_code == 1
    assert "differs    trading-memo (not in the database)  [templates/trading-memo.md]" in (
        result.output
    )
    assert version_count(sync_session) == 0

    run_sync()
    result = run_sync("--check")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "Every prompt is in step with its file."

    # Edited in the database (the UI), edited in a file, file deleted.
    prompt = Prompt.load("output-format", cache=False)
    prompt.update_content(messages=[{"role": "system", "content": "Answer in one line."}])
    skill = prompts_dir / "skills" / "strategy-analysis.md"
    skill.write_text(skill.read_text().replace("name: Strategy Analysis", "name: Strategies"))
    (prompts_dir / "fragments" / "provider-notes.md").unlink()
    versions = version_count(sync_session)

    result = run_sync("--check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "differs    output-format (content)  [fragments/output-format.md]" in lines
    assert "differs    strategy-analysis (name)  [skills/strategy-analysis.md]" in lines
    assert "differs    provider-notes (file missing)  [fragments/provider-notes.md]" in lines
    assert lines[-1].startswith("3 prompts differ from the files")
    assert version_count(sync_session) == versions
    assert Prompt.load("strategy-analysis", cache=False).name == "Strategy Analysis"

    report = json.loads(run_sync("--check", "--json").stdout)
    assert {d["slug"] for d in report["differences"]} == {
        "output-format",
        "strategy-analysis",
        "provider-notes",
    }


def test_check_reports_file_problems_like_a_sync(run_sync: RunSync, prompts_dir: Path) -> None:
    (prompts_dir / "skills" / "broken.md").write_text("---\nname: No slug\n---\nHi\n")
    result = run_sync("--check")
    assert result.exit_code == 1
    assert "the front matter has no 'slug'" in result.output


def test_export_then_sync_changes_nothing_for_the_examples(
    sync_app: Flask, run_sync: RunSync, tmp_path: Path, sync_session: scoped_session[Any]
) -> None:
    run_sync()
    versions = version_count(sync_session)
    target = tmp_path / "exported"
    result = export(sync_app, "--path", target)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"Exported 6 prompts to {target}: 6 written, 0 unchanged."
    )
    assert {path.stem for path in target.glob("*/*.md")} >= EXAMPLE_SLUGS
    # The multi-message prompts keep their layout: body files, inline content.
    memo = (target / "templates" / "trading-memo.md").read_text()
    assert "body_file: trading_memo_system.md" in memo
    assert (target / "templates" / "trading_memo_user.md").is_file()
    assert "content: |" in (target / "skills" / "strategy-analysis.md").read_text()

    result = run_sync("--path", target, "--check")
    assert result.exit_code == 0, result.output
    result = run_sync("--path", target)
    assert result.output.count("unchanged  ") == 6, result.output
    assert version_count(sync_session) == versions
    # A second export finds every file right.
    assert "0 written, 6 unchanged" in export(sync_app, "--path", target).output


def test_export_in_place_keeps_the_examples_in_step(
    sync_app: Flask, run_sync: RunSync, prompts_dir: Path
) -> None:
    run_sync()
    assert export(sync_app).exit_code == 0
    assert run_sync("--check").exit_code == 0


#: Texts a round trip must keep exactly.
AWKWARD = [
    "  leading blanks and trailing ones  ",
    "---\nlooks like front matter\n---",
    "line with trailing spaces   \nand a tab\t\n\n\nthree blank lines",
    "Ünïcödé ✓ and emoji 🎉 and 'quotes' \"double\" # not a comment: {{name}}",
    "yes",
    "",
]


def test_export_round_trip_of_prompts_made_through_the_api(
    sync_app: Flask, run_sync: RunSync, tmp_path: Path, sync_session: scoped_session[Any]
) -> None:
    Prompt.create_with_content(
        "awkward",
        "Awkward: a name",
        description="",
        tags=["b", "templates", "a"],
        messages=[
            {"role": "system", "content": AWKWARD[0]},
            {"role": "user", "content": AWKWARD[1]},
            {"role": "user", "content": AWKWARD[2]},
            {"role": "assistant", "content": AWKWARD[3]},
            {"role": "developer", "content": "{{#items}}- {{.}}\n{{/items}}"},
            {"role": "user", "content": AWKWARD[4]},
            {"role": "user", "content": AWKWARD[5]},
        ],
        model="gpt-4.1-mini",
        model_params={"temperature": 1.0, "seed": 7, "stop": ["\n\n", "END"], "x": {"y": None}},
        default_variables={"name": "null", "n": "1.0", "on": True, "items": ["a", "b"]},
    )
    Prompt.create_with_content(
        "plain",
        "Plain",
        tags=["skills"],
        messages=[{"role": "system", "content": "One message.\n\nTwo paragraphs."}],
    )
    target = tmp_path / "exported"
    result = export(sync_app, "--path", target)
    assert result.exit_code == 0, result.output
    assert "warning:" not in result.output
    assert (target / "skills" / "plain.md").read_text() == (
        "---\nslug: plain\nname: Plain\n---\nOne message.\n\nTwo paragraphs.\n"
    )
    versions = version_count(sync_session)
    before = {p.slug: (p.name, p.description, p.tags, p.current_version) for p in Prompt.all()}

    result = run_sync("--path", target)
    assert result.exit_code == 0, result.output
    assert result.output.count("unchanged  ") == 2, result.output
    assert version_count(sync_session) == versions
    after = {p.slug: (p.name, p.description, p.tags, p.current_version) for p in Prompt.all()}
    assert after == before
    assert Prompt.load("awkward", cache=False).source_path == "templates/awkward.md"


def test_a_ui_edit_exported_becomes_the_file(
    sync_app: Flask, run_sync: RunSync, prompts_dir: Path
) -> None:
    run_sync()
    prompt = Prompt.load("backtest-evaluation", cache=False)
    content = current_version(prompt).messages[0]["content"].replace("{{benchmark}}", "the index")
    prompt.update_content(messages=[{"role": "system", "content": content}])
    result = export(sync_app, "--slug", "backtest-evaluation")
    assert result.exit_code == 0, result.output
    assert "written    backtest-evaluation (v2)  [skills/backtest-evaluation.md]" in result.output
    text = (prompts_dir / "skills" / "backtest-evaluation.md").read_text()
    assert "Compare every result against the index." in text
    assert "tags:\n- evaluation\n" in text  # the folder tag is the sync's to add
    assert run_sync("--check").exit_code == 0


def test_export_warns_about_what_it_cannot_keep(
    sync_app: Flask, run_sync: RunSync, tmp_path: Path
) -> None:
    Prompt.create_with_content(
        "untagged", "Untagged", messages=[{"role": "system", "content": "Hi."}]
    )
    Prompt.create_with_content(
        "named",
        "Named",
        messages=[{"role": "user", "content": "Hi.", "name": "ada"}],
    )
    Prompt.create("empty", "Empty")
    target = tmp_path / "exported"
    (target / "skills").mkdir(parents=True)
    (target / "skills" / "taken.md").write_text("---\nslug: other\nname: Other\n---\nX\n")
    Prompt.create_with_content(
        "taken", "Taken", tags=["skills"], messages=[{"role": "system", "content": "Mine."}]
    )

    result = export(sync_app, "--path", target)
    assert result.exit_code == 0, result.output
    assert (
        "warning: prompt 'untagged' goes to skills/untagged.md: the next sync adds the tag 'skills'"
        in result.output
    )
    assert "message 1 has a name, which prompt files cannot hold" in result.output
    assert "prompt 'empty' has no version to export" in result.output
    assert "skills/taken.md holds prompt 'other'" in result.output
    assert (target / "skills" / "taken.md").read_text().startswith("---\nslug: other")
    assert not (target / "skills" / "named.md").exists()

    run_sync("--path", target)
    assert Prompt.load("untagged", cache=False).tags == ["skills"]


def test_export_options(sync_app: Flask, run_sync: RunSync, tmp_path: Path) -> None:
    run_sync()
    result = export(sync_app, "--path", tmp_path / "one", "--slug", "output-format", "--json")
    report = json.loads(result.stdout)
    assert [p["slug"] for p in report["exported"]] == ["output-format"]
    assert report["exported"][0]["files"] == ["fragments/output-format.md"]

    result = export(sync_app, "--path", tmp_path, "--slug", "nope")
    assert result.exit_code == 2 and "nope" in result.output
    result = export(sync_app, "--path", tmp_path, "--label", "Not A Label")
    assert result.exit_code == 2 and "--label: invalid label 'Not A Label'" in result.output


def test_export_a_label_writes_the_version_it_names(
    sync_app: Flask, run_sync: RunSync, tmp_path: Path
) -> None:
    """A release is committed as files: the labelled version, not the latest draft."""
    run_sync()
    prompt = Prompt.load("output-format", cache=False)
    released = current_version(prompt)
    prompt.set_label("production", version=released.version_number)
    prompt.update_content(messages=[{"role": "user", "content": "A draft, not released."}])

    result = export(sync_app, "--path", tmp_path / "out", "--label", "production", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [exported] = [p for p in report["exported"] if p["slug"] == "output-format"]
    assert exported["version_number"] == released.version_number
    text = (tmp_path / "out" / exported["files"][0]).read_text()
    assert "A draft, not released." not in text
    # Prompts the label names no version of are left out, with a warning.
    assert any("has no version to export" in w for w in report["warnings"])


def test_export_needs_a_folder(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        result = export(app)
    assert result.exit_code == 2 and "no prompts folder" in result.output
