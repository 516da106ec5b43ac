"""``flask llm-logs sync-prompts`` over a copy of ``examples/prompts``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from sqlalchemy.orm import scoped_session

from flask_llm_logs import Prompt
from flask_llm_logs.models import PromptRecord
from flask_llm_logs.models import PromptVersion
from tests.helpers.prompts import current_version

RunSync = Callable[..., Result]

EXAMPLE_SLUGS = [
    "backtest-evaluation",
    "output-format",
    "provider-notes",
    "risk-disclaimer",
    "strategy-analysis",
    "trading-memo",
]


def counts(sync_session: scoped_session[Any]) -> tuple[int, int]:
    sync_session.rollback()
    prompts = sync_session.scalar(sa.select(sa.func.count()).select_from(PromptRecord))
    versions = sync_session.scalar(sa.select(sa.func.count()).select_from(PromptVersion))
    assert prompts is not None and versions is not None
    return prompts, versions


def test_first_sync_creates_every_prompt(
    run_sync: RunSync, sync_session: scoped_session[Any]
) -> None:
    result = run_sync()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "created    backtest-evaluation (v1)  [skills/backtest-evaluation.md]" in lines
    assert "created    trading-memo (v1)  [templates/trading-memo.md]" in lines
    assert lines[-1] == "Synced 6 prompts: 6 created, 0 updated, 0 unchanged."
    assert [p.slug for p in Prompt.all()] == EXAMPLE_SLUGS
    assert counts(sync_session) == (6, 6)

    result = run_sync("--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is False and report["warnings"] == []
    assert {change["action"] for change in report["changes"]} == {"unchanged"}
    assert {
        "slug": "trading-memo",
        "path": "templates/trading-memo.md",
        "action": "unchanged",
        "changed": [],
        "version_number": None,
    } in report["changes"]


def test_front_matter_and_bodies_become_prompts(run_sync: RunSync) -> None:
    run_sync()
    skill = Prompt.load("backtest-evaluation")
    assert skill.name == "Backtest Evaluation"
    assert skill.description == "How to evaluate backtests"
    assert skill.tags == ["evaluation", "skills"]
    version = current_version(skill)
    assert version.model == "gpt-4.1-mini"
    assert version.model_params == {"temperature": 0.3, "max_tokens": 1500}
    assert version.default_variables == {"benchmark": "buy and hold"}
    assert version.changelog == "Synced from skills/backtest-evaluation.md"
    # Single-message file: the body is the system message.
    assert [m["role"] for m in version.messages] == ["system"]
    assert version.messages[0]["content"].startswith("You evaluate backtests")

    memo = Prompt.load("trading-memo")
    assert memo.tags == ["templates"]
    assert [m["role"] for m in current_version(memo).messages] == ["system", "user"]
    user = (
        Path(__file__).parents[2] / "examples/prompts/templates/trading_memo_user.md"
    ).read_text()
    assert current_version(memo).messages[1]["content"] == user.strip()
    # Body files (no front matter) are not prompts of their own.
    assert "trading_memo_user" not in [p.slug for p in Prompt.all()]

    fragment = Prompt.load("provider-notes")
    assert (fragment.tags, current_version(fragment).model) == (["fragments"], None)


def test_synced_prompts_build_with_their_partials(run_sync: RunSync) -> None:
    run_sync()
    params = Prompt.load("trading-memo").build(
        desk_name="Desk A",
        week=12,
        positions=[{"symbol": "AAPL", "quantity": 10, "price": "189.5"}],
        notes='Watch <earnings> & "guidance"',
    )
    assert params["model"] == "gpt-4.1-mini"
    assert params["temperature"] == 0.7
    system, user = (m["content"] for m in params["messages"])
    assert system == (
        "You write the weekly trading memo for Desk A: short, factual, no hype.\n\n"
        "Past performance does not guarantee future results."
        " Say so whenever you recommend a trade."
    )
    assert user == (
        "Week 12. Positions:\n- AAPL: 10 at 189.5\n\n"
        'Notes from the desk: Watch <earnings> & "guidance"'
    )
    skill = Prompt.load("backtest-evaluation").build(app_name="Tradebot", strict=True)
    text = skill["messages"][0]["content"]
    assert "Compare every result against buy and hold." in text
    assert "No metrics were given" in text
    assert "Answer in Markdown with three sections" in text


def test_second_sync_changes_nothing(run_sync: RunSync, sync_session: scoped_session[Any]) -> None:
    run_sync()
    result = run_sync()
    assert result.exit_code == 0
    assert result.output.count("unchanged  ") == 6
    assert result.output.splitlines()[-1] == "Synced 6 prompts: 0 created, 0 updated, 6 unchanged."
    assert counts(sync_session) == (6, 6)


def test_changed_content_makes_one_new_version(
    run_sync: RunSync, prompts_dir: Path, sync_session: scoped_session[Any]
) -> None:
    run_sync()
    body = prompts_dir / "templates" / "trading_memo_user.md"
    body.write_text(body.read_text() + "\nKeep it under 200 words.\n")
    params = prompts_dir / "skills" / "strategy-analysis.md"
    params.write_text(params.read_text().replace("temperature: 0.3", "temperature: 0.5"))

    result = run_sync()
    assert result.exit_code == 0, result.output
    assert "updated    trading-memo (v2)  [templates/trading-memo.md]" in result.output
    assert "updated    strategy-analysis (v2)  [skills/strategy-analysis.md]" in result.output
    assert "Synced 6 prompts: 0 created, 2 updated, 4 unchanged." in result.output
    memo = Prompt.load("trading-memo")
    assert current_version(memo).changelog == "Synced from templates/trading-memo.md"
    assert current_version(memo).messages[1]["content"].endswith("Keep it under 200 words.")
    assert memo.version(1).messages[1]["content"].endswith("Notes from the desk: {{notes}}")
    assert current_version(Prompt.load("strategy-analysis")).model_params["temperature"] == 0.5
    assert counts(sync_session) == (6, 8)
    assert run_sync().output.count("unchanged  ") == 6


def test_metadata_changes_update_without_a_version(
    run_sync: RunSync, prompts_dir: Path, sync_session: scoped_session[Any]
) -> None:
    run_sync()
    path = prompts_dir / "fragments" / "output-format.md"
    path.write_text(
        path.read_text().replace("name: Output Format", "name: Answer Format\ntags: [style]")
    )
    result = run_sync()
    assert "updated    output-format (name, tags)  [fragments/output-format.md]" in result.output
    prompt = Prompt.load("output-format")
    assert (prompt.name, prompt.tags) == ("Answer Format", ["style", "fragments"])
    assert counts(sync_session) == (6, 6)


def test_sync_takes_over_prompts_made_in_the_ui(
    run_sync: RunSync, sync_session: scoped_session[Any]
) -> None:
    Prompt.create(slug="output-format", name="Made by hand", tags=["draft"])
    result = run_sync()
    assert "updated    output-format (v1; name, tags)" in result.output
    assert Prompt.load("output-format").tags == ["fragments"]


def test_dry_run_writes_nothing(
    run_sync: RunSync, prompts_dir: Path, sync_session: scoped_session[Any]
) -> None:
    result = run_sync("--dry-run")
    assert result.exit_code == 0
    assert "created    strategy-analysis (v1)" in result.output
    assert result.output.splitlines()[-1] == (
        "Dry run: would sync 6 prompts: 6 created, 0 updated, 0 unchanged. Nothing written."
    )
    assert counts(sync_session) == (0, 0)

    run_sync()
    path = prompts_dir / "fragments" / "risk-disclaimer.md"
    path.write_text(path.read_text() + "\nNever promise returns.\n")
    result = run_sync("--dry-run")
    assert "updated    risk-disclaimer (v2)" in result.output
    assert counts(sync_session) == (6, 6)


def test_path_option_overrides_the_config(
    make_app: Callable[..., Flask], prompts_dir: Path
) -> None:
    app = make_app()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["llm-logs", "sync-prompts"])
    assert result.exit_code == 2
    assert "pass --path or set LLM_LOGS_PROMPTS_SOURCE_PATH" in result.output
    result = runner.invoke(args=["llm-logs", "sync-prompts", "--path", str(prompts_dir)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert counts(app.extensions["llm_logs"].session) == (6, 6)


def test_only_the_configured_subfolders_are_read(
    make_app: Callable[..., Flask], prompts_dir: Path
) -> None:
    app = make_app(LLM_LOGS_PROMPT_SUBFOLDERS=["fragments"])
    result = app.test_cli_runner().invoke(
        args=["llm-logs", "sync-prompts", "--path", str(prompts_dir)]
    )
    assert result.output.splitlines()[-1] == "Synced 3 prompts: 3 created, 0 updated, 0 unchanged."


def test_unknown_front_matter_keys_are_warned_about(run_sync: RunSync, prompts_dir: Path) -> None:
    write(prompts_dir, "skills/typo.md", "---\nslug: typo\nname: Typo\nmodle: gpt-4.1\n---\nHi\n")
    result = run_sync()
    assert result.exit_code == 0
    assert "warning: skills/typo.md:4: unknown front matter key 'modle' is ignored" in result.stderr
    assert current_version(Prompt.load("typo")).model is None


def write(prompts_dir: Path, relative: str, text: str) -> None:
    (prompts_dir / relative).write_text(text)


# (file to write, its text, expected "path:line: message" fragments)
BAD_FILES = [
    pytest.param(
        "skills/no-slug.md",
        "---\nname: No Slug\n---\nBody\n",
        ["skills/no-slug.md:1: the front matter has no 'slug'"],
        id="missing-slug",
    ),
    pytest.param(
        "skills/no-name.md",
        "---\nslug: no-name\n---\nBody\n",
        ["skills/no-name.md:1: the front matter has no 'name'"],
        id="missing-name",
    ),
    pytest.param(
        "skills/bad-yaml.md",
        "---\nslug: bad-yaml\nname: [Bad\nmodel: x\n---\nBody\n",
        ["skills/bad-yaml.md:4: invalid YAML in the front matter"],
        id="invalid-yaml",
    ),
    pytest.param(
        "templates/missing-body.md",
        "---\nslug: missing-body\nname: Missing\nmessages:\n  - role: system\n    content: Hi\n"
        "  - role: user\n    body_file: nowhere.md\n---\n",
        ["templates/missing-body.md:7: messages item 2: body_file 'nowhere.md' not found"],
        id="missing-body-file",
    ),
    pytest.param(
        "templates/escape.md",
        "---\nslug: escape\nname: Escape\nmessages:\n  - role: user\n"
        "    body_file: ../../secret.md\n---\n",
        ["templates/escape.md:5: messages item 1: body_file '../../secret.md' resolves outside"],
        id="body-file-outside-root",
    ),
    pytest.param(
        "fragments/copy.md",
        "---\nslug: provider-notes\nname: Copy\n---\nBody\n",
        ["fragments/provider-notes.md: slug 'provider-notes' is already used by fragments/copy.md"],
        id="duplicate-slug",
    ),
    pytest.param(
        "skills/unclosed.md",
        "---\nslug: unclosed\nname: Unclosed\n---\nIntro\n\n{{#metrics}}\n- {{name}}\n",
        [
            "skills/unclosed.md:7: system message does not parse:"
            " section {{#metrics}} is never closed"
        ],
        id="unclosed-section",
    ),
    pytest.param(
        "templates/trading_memo_user.md",
        "Week {{week}}\n{{^positions}}\nnone\n",
        [
            "templates/trading_memo_user.md:2: user message does not parse: section"
            " {{^positions}} is never closed (body_file of templates/trading-memo.md)"
        ],
        id="unclosed-section-in-body-file",
    ),
    pytest.param(
        "skills/unclosed-front-matter.md",
        "---\nslug: open\nname: Open\nBody\n",
        ["skills/unclosed-front-matter.md:1: the front matter starts with '---' but has no"],
        id="unclosed-front-matter",
    ),
    pytest.param(
        "skills/bad-role.md",
        "---\nslug: bad-role\nname: Bad Role\nmessages:\n  - role: robot\n    content: Hi\n---\n",
        ["skills/bad-role.md:5: messages item 1: role must be one of"],
        id="bad-role",
    ),
    pytest.param(
        "skills/bad-params.md",
        "---\nslug: bad-params\nname: Bad\nmodel_params: [1, 2]\n---\nBody\n",
        ["skills/bad-params.md:4: prompt 'bad-params': model_params must be a dict"],
        id="bad-model-params",
    ),
    pytest.param(
        "skills/no-body.md",
        "---\nslug: no-body\nname: No Body\n---\n",
        ["skills/no-body.md:4: no body"],
        id="empty-body",
    ),
    pytest.param(
        "skills/partial.md",
        "---\nslug: partial\nname: Partial\n---\nIntro\n{{> not-a-prompt}}\n",
        ["skills/partial.md: no prompt with slug 'not-a-prompt'"],
        id="missing-partial",
    ),
    pytest.param(
        "fragments/loop.md",
        "---\nslug: loop\nname: Loop\n---\n{{> loop}}\n",
        ["fragments/loop.md: partials include each other in a cycle: loop -> loop"],
        id="partial-cycle",
    ),
]


@pytest.mark.parametrize(("relative", "text", "expected"), BAD_FILES)
def test_bad_files_stop_the_sync_with_file_and_line(
    run_sync: RunSync,
    prompts_dir: Path,
    sync_session: scoped_session[Any],
    relative: str,
    text: str,
    expected: list[str],
) -> None:
    write(prompts_dir, relative, text)
    result = run_sync()
    assert result.exit_code == 1
    for fragment in expected:
        assert f"error: {fragment}" in result.stderr
    assert "nothing written" in result.stderr
    assert counts(sync_session) == (0, 0)


def test_every_problem_is_reported_and_nothing_is_applied(
    run_sync: RunSync, prompts_dir: Path, sync_session: scoped_session[Any]
) -> None:
    run_sync()
    # A valid change and two broken files: the valid change must not be applied either.
    path = prompts_dir / "fragments" / "risk-disclaimer.md"
    path.write_text(path.read_text() + "\nNever promise returns.\n")
    write(prompts_dir, "skills/no-slug.md", "---\nname: No Slug\n---\nBody\n")
    write(prompts_dir, "skills/unclosed.md", "---\nslug: u\nname: U\n---\n{{#a}}\n")
    result = run_sync()
    assert result.exit_code == 1
    assert "error: skills/no-slug.md:1:" in result.stderr
    assert "error: skills/unclosed.md:5:" in result.stderr
    assert "sync-prompts failed: 2 problems; nothing written." in result.stderr
    assert counts(sync_session) == (6, 6)
    assert current_version(Prompt.load("risk-disclaimer", cache=False)).version_number == 1

    text_problems = [
        line.removeprefix("error: ")
        for line in result.stderr.splitlines()
        if line.startswith("error: ")
    ]
    result = run_sync("--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"problems": text_problems, "warnings": []}
