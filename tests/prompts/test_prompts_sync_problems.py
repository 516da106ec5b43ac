"""sync-prompts: symlinks out of the folder, every problem in one run, warnings, bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result
from sqlalchemy.orm import scoped_session

from flask_llm_logs.models import PromptRecord

RunSync = Callable[..., Result]


def prompt_count(sync_session: scoped_session[Any]) -> int:
    return sync_session.query(PromptRecord).count()


def test_a_symlinked_file_outside_the_folder_is_refused(
    run_sync: RunSync, prompts_dir: Path, tmp_path: Path, sync_session: scoped_session[Any]
) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\nslug: secret\nname: Secret\n---\nThe database password\n")
    (prompts_dir / "skills" / "secret.md").symlink_to(secret)
    result = run_sync()
    assert result.exit_code == 1
    assert f"error: skills/secret.md: resolves to {secret}, outside the prompts folder" in (
        result.stderr
    )
    assert prompt_count(sync_session) == 0


def test_a_symlinked_subfolder_outside_the_folder_is_refused(
    run_sync: RunSync, prompts_dir: Path, tmp_path: Path, sync_session: scoped_session[Any]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.md").write_text("---\nslug: x\nname: X\n---\nHi\n")
    (prompts_dir / "templates").rename(prompts_dir / "old-templates")
    (prompts_dir / "templates").symlink_to(elsewhere, target_is_directory=True)
    result = run_sync()
    assert result.exit_code == 1
    assert "error: templates: resolves to" in result.stderr
    assert prompt_count(sync_session) == 0


def test_symlinks_inside_the_folder_are_followed(
    run_sync: RunSync, prompts_dir: Path, sync_session: scoped_session[Any]
) -> None:
    (prompts_dir / "skills" / "alias.md").unlink(missing_ok=True)
    (prompts_dir / "shared").mkdir()
    (prompts_dir / "shared" / "a.md").write_text("---\nslug: aliased\nname: A\n---\nHi\n")
    (prompts_dir / "skills" / "alias.md").symlink_to(prompts_dir / "shared" / "a.md")
    result = run_sync()
    assert result.exit_code == 0, result.stderr
    assert "created    aliased (v1)" in result.output


def test_every_problem_of_a_file_is_reported_in_one_run(
    run_sync: RunSync, prompts_dir: Path
) -> None:
    (prompts_dir / "skills" / "bad.md").write_text(
        "---\nslug: bad\nname: Bad\nmodle: x\nmodel_params:\n  temperature: hot\n---\n"
        "Intro\n{{> not-a-prompt}}\n"
    )
    (prompts_dir / "skills" / "no-name.md").write_text(
        "---\nslug: no-name\n---\n{{> also-missing}}\n"
    )
    result = run_sync()
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: skills/bad.md:5: prompt 'bad': model_params temperature must be a number"
        " from 0 to 2, got 'hot'",
        "error: skills/no-name.md:1: the front matter has no 'name'",
        "error: skills/bad.md: no prompt with slug 'not-a-prompt'"
        " (included as the partial {{> not-a-prompt}} by 'bad')",
        "error: skills/no-name.md: no prompt with slug 'also-missing'"
        " (included as the partial {{> also-missing}} by 'no-name')",
    ]
    # Warnings are printed even though the sync failed.
    assert "warning: skills/bad.md:4: unknown front matter key 'modle' is ignored" in (
        result.stderr
    )
    assert "sync-prompts failed: 4 problems; nothing written." in result.stderr


def test_nul_characters_in_a_file_are_problems(
    run_sync: RunSync, prompts_dir: Path, sync_session: scoped_session[Any]
) -> None:
    (prompts_dir / "skills" / "nul.md").write_text("---\nslug: nul\nname: Nul\n---\nA\x00B\n")
    (prompts_dir / "skills" / "nul-yaml.md").write_text(
        '---\nslug: nul-yaml\nname: "Nul\\0"\n---\nHi\n'
    )
    result = run_sync()
    assert result.exit_code == 1
    assert "error: skills/nul.md:5: prompt 'nul': system message contains a NUL" in result.stderr
    assert "error: skills/nul-yaml.md:3: prompt 'nul-yaml': name contains a NUL" in result.stderr
    assert prompt_count(sync_session) == 0


def test_prompt_files_outside_the_subfolders_are_warned_about(
    run_sync: RunSync, prompts_dir: Path
) -> None:
    (prompts_dir / "skils").mkdir()
    (prompts_dir / "skils" / "typo.md").write_text("---\nslug: typo\nname: Typo\n---\nHi\n")
    (prompts_dir / "skills" / "nested").mkdir()
    (prompts_dir / "skills" / "nested" / "deep.md").write_text("---\nslug: d\nname: D\n---\nx\n")
    (prompts_dir / "README.md").write_text("# Our prompts\n")  # no front matter: silent
    result = run_sync()
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {path}: has front matter but is skipped: prompt files must be directly in"
        " a folder of LLM_LOGS_PROMPT_SUBFOLDERS (skills, fragments, templates)"
        for path in ("skills/nested/deep.md", "skils/typo.md")
    ]
