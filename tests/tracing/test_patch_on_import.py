"""SDKs are patched when the app first imports them, not imported by ``init_app``.

A throw-away package stands in for an SDK where the import hook itself is
tested; a fresh interpreter shows that ``init_app`` leaves the real SDKs
unimported, and that one imported later records its calls.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

import flask_llm_logs
from flask_llm_logs.instrumentation import SDKS
from flask_llm_logs.instrumentation import is_instrumented
from flask_llm_logs.instrumentation.on_import import FINDER
from flask_llm_logs.instrumentation.on_import import patch_on_import
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.tracing import spans

PACKAGE = "llm_logs_fake_sdk"


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package that is not imported yet, and is forgotten again after the test."""
    root = tmp_path / PACKAGE
    root.mkdir()
    (root / "__init__.py").write_text("import time\ntime.sleep(0.05)\nclient = 'unpatched'\n")
    (root / "data.txt").write_text("shipped with the package")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield PACKAGE
    FINDER.forget()
    sys.modules.pop(PACKAGE, None)


def patcher(calls: list[str]) -> Callable[[], None]:
    def patch() -> None:
        calls.append("patched")
        sys.modules[PACKAGE].client = "patched"  # type: ignore[attr-defined]

    return patch


def test_a_package_is_patched_when_first_imported_and_only_then(package: str) -> None:
    calls: list[str] = []
    patch_on_import(package, patcher(calls))
    assert calls == []
    assert FINDER in sys.meta_path
    sdk = __import__(package)
    assert (calls, sdk.client) == (["patched"], "patched")
    # The package keeps its own loader: its resources read as without us.
    assert type(sdk.__loader__).__name__ == "SourceFileLoader"
    assert sdk.__spec__ is not None
    assert sdk.__spec__.loader is sdk.__loader__
    from importlib import resources

    assert (resources.files(package) / "data.txt").read_text() == "shipped with the package"
    # Once patched, nothing waits: the finder is gone.
    assert FINDER not in sys.meta_path
    sys.modules.pop(package)
    __import__(package)
    assert calls == ["patched"]


def test_an_imported_package_is_patched_at_once(package: str) -> None:
    __import__(package)
    calls: list[str] = []
    patch_on_import(package, patcher(calls))
    assert calls == ["patched"]
    assert FINDER not in sys.meta_path


def test_threads_importing_at_once_all_get_it_patched(package: str) -> None:
    """The second importer waits on the import lock until the first has patched."""
    calls: list[str] = []

    def slow_patch() -> None:
        time.sleep(0.2)
        patcher(calls)()

    patch_on_import(package, slow_patch)
    seen: list[str] = []
    barrier = threading.Barrier(4)

    def import_it() -> None:
        barrier.wait()
        seen.append(__import__(package).client)

    threads = [threading.Thread(target=import_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["patched"]
    assert seen == ["patched"] * 4


def test_before_runs_before_the_package(package: str) -> None:
    order: list[str] = []
    patch_on_import(
        package,
        lambda: order.append(f"patched {PACKAGE in sys.modules}"),
        lambda: order.append("before"),
    )
    __import__(package)
    assert order == ["before", "patched True"]


@pytest.mark.recorder_errors("the patch of a package raises on purpose")
def test_a_failing_patch_never_breaks_the_import(package: str) -> None:
    def broken() -> None:
        raise RuntimeError("a renamed class")

    patch_on_import(package, broken)
    assert __import__(package).client == "unpatched"
    assert FINDER not in sys.meta_path


@pytest.mark.usefixtures("reinstrumented")
def test_uninstrument_forgets_the_packages_not_imported_yet(package: str) -> None:
    calls: list[str] = []
    patch_on_import(package, patcher(calls))
    flask_llm_logs.uninstrument()
    assert FINDER not in sys.meta_path
    assert __import__(package).client == "unpatched"
    assert calls == []


def test_an_sdk_waiting_to_be_patched_counts_as_instrumented(
    package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's fallback call imports the SDK, so its call records the span itself."""
    monkeypatch.setitem(SDKS, "fake", (package, "llm_logs_fake_integration"))
    patch_on_import(package, lambda: None)
    assert is_instrumented("fake")
    FINDER.forget()
    assert not is_instrumented("fake")


#: Run in a fresh interpreter: ``init_app``, then the app's first ``import anthropic``.
LATE_IMPORT = """
import sys
from flask import Flask
import flask_llm_logs

database_url, fake_url = sys.argv[1:]
app = Flask("late_import")
app.config.update(SQLALCHEMY_DATABASE_URI=database_url)
flask_llm_logs.LlmLogs(app)
imported = [m for m in ("openai", "anthropic", "litellm", "google.genai") if m in sys.modules]
assert not imported, f"init_app imported {imported}"

import anthropic

client = anthropic.Anthropic(base_url=fake_url, api_key="test", max_retries=0)
with app.app_context():
    client.messages.create(
        model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    )
    assert flask_llm_logs.flush(30)
app.extensions["llm_logs"].shutdown()
"""


def test_init_app_imports_no_sdk_and_one_imported_later_is_recorded(
    app: Flask, database_url: str, fake_openai: FakeOpenAI
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LATE_IMPORT, database_url, fake_openai.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    [span] = spans(app)
    assert (span.kind, span.model, span.status) == ("llm", "claude-sonnet-4-5", "completed")
