"""Time of ``flask llm-logs sync-prompts`` over 1,000 prompt files: first run and unchanged rerun.

The folder holds 400 single-message skills (each including one of the
fragments as a partial), 300 fragments and 300 two-message templates whose
messages come from body files, about 1 KB of Markdown per prompt. The first
run creates 1,000 prompts and 1,000 versions; the second finds nothing to do.
The command runs through Flask's CLI test runner in this process, so the
times include reading and checking every file and the database work, not
Python start-up.

Usage::

    python bench/prompts_sync.py [--files 1000] [--database-url postgresql+psycopg2://...]

Without ``--database-url`` it runs on a throw-away PostgreSQL database on the
local server (``LLM_LOGS_BENCH_POSTGRES``, default postgres@127.0.0.1:5432)
and on a SQLite file, one after the other.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from flask import Flask

from flask_llm_logs import LlmLogs

PARAGRAPH = (
    "Weigh the evidence for {{topic}} carefully and state what would change your mind. " * 10
)


def write_folder(root: Path, files: int) -> None:
    skills, fragments = files * 2 // 5, files * 3 // 10
    templates = files - skills - fragments
    for folder in ("skills", "fragments", "templates"):
        (root / folder).mkdir(parents=True)
    for i in range(fragments):
        (root / "fragments" / f"fragment-{i}.md").write_text(
            f"---\nslug: fragment-{i}\nname: Fragment {i}\n---\n{PARAGRAPH}\n"
        )
    for i in range(skills):
        (root / "skills" / f"skill-{i}.md").write_text(
            f"---\nslug: skill-{i}\nname: Skill {i}\ndescription: Skill number {i}\n"
            f"tags: [bench]\nmodel: gpt-4.1-mini\nmodel_params:\n  temperature: 0.3\n---\n"
            f"You are skill {i} of {{{{app_name}}}}.\n{PARAGRAPH}\n"
            f"{{{{#items}}}}\n- {{{{name}}}}\n{{{{/items}}}}\n"
            f"{{{{> fragment-{i % fragments}}}}}\n"
        )
    for i in range(templates):
        (root / "templates" / f"template_{i}_system.md").write_text(f"{PARAGRAPH}\n")
        (root / "templates" / f"template_{i}_user.md").write_text("Write about {{topic}}.\n")
        (root / "templates" / f"template-{i}.md").write_text(
            f"---\nslug: template-{i}\nname: Template {i}\nmodel: gpt-4.1\nmessages:\n"
            f"  - role: system\n    body_file: template_{i}_system.md\n"
            f"  - role: user\n    body_file: template_{i}_user.md\n---\n"
        )


def run(label: str, database_url: str, root: Path) -> None:
    create_tables(database_url)
    app = Flask("bench")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, LLM_LOGS_PROMPTS_SOURCE_PATH=str(root))
    LlmLogs(app)
    runner = app.test_cli_runner()
    for run_name in ("first run", "unchanged rerun"):
        start = time.perf_counter()
        result = runner.invoke(args=["llm-logs", "sync-prompts"])
        elapsed = time.perf_counter() - start
        assert result.exit_code == 0, result.output
        summary = result.output.splitlines()[-1]
        print(f"{label:<11} {run_name:<16} {elapsed:>7.2f} s   {summary}")
    with app.app_context():
        for engine in app.extensions["sqlalchemy"].engines.values():
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "prompts"
        write_folder(root, args.files)
        if args.database_url:
            run(sa.make_url(args.database_url).get_backend_name(), args.database_url, root)
            return
        with throwaway_database() as url:
            run("postgresql", url, root)
        run("sqlite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}", root)


if __name__ == "__main__":
    main()
