"""The flask-llm-logs quickstart: a small app factory on SQLite.

Run it from the repository root::

    flask --app examples/quickstart/quickstart.py quickstart

which is these three steps in one::

    flask --app examples/quickstart/quickstart.py llm-logs db upgrade
    flask --app examples/quickstart/quickstart.py demo
    flask --app examples/quickstart/quickstart.py run

then open http://127.0.0.1:5000/llm_logs/.
"""

from __future__ import annotations

import click
from flask import Flask
from flask import Request
from flask import redirect
from werkzeug.serving import run_simple
from werkzeug.wrappers import Response

from flask_llm_logs import LlmLogs

llm_logs = LlmLogs()


def local_only(request: Request) -> bool:
    """Open the UI to this machine only; a real app checks its own users here."""
    return request.remote_addr in {"127.0.0.1", "::1"}


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY="quickstart-only-not-a-secret",
        # Relative SQLite paths live in the app's instance folder.
        SQLALCHEMY_DATABASE_URI="sqlite:///quickstart.sqlite3",
        LLM_LOGS_AUTHORIZE=local_only,
        # An IP allow-list trusts whoever reaches 127.0.0.1, which includes a
        # foreign site whose name was made to resolve here (DNS rebinding):
        # answer only to this machine's own names.
        TRUSTED_HOSTS=["127.0.0.1", "localhost"],
        # The demo may talk to the offline fake server: price its calls as OpenAI's.
        LLM_LOGS_PRICING_PROVIDER="openai",
    )
    llm_logs.init_app(app)

    @app.get("/")
    def index() -> Response:
        return redirect("/llm_logs/")

    from demo_traffic import demo

    app.cli.add_command(demo)

    @app.cli.command(help="Create the tables, record demo traffic, and serve the app.")
    @click.option("--port", default=5000, show_default=True)
    @click.pass_context
    def quickstart(ctx: click.Context, port: int) -> None:
        from flask_llm_logs.cli.db import upgrade

        ctx.invoke(upgrade)
        ctx.invoke(demo)
        click.echo(f"Serving the quickstart: open http://127.0.0.1:{port}/llm_logs/")
        # Not app.run(): Flask ignores it inside a ``flask`` command.
        run_simple("127.0.0.1", port, app, threaded=True)

    return app
