"""A prompt's labels: moving one from the version list, and the history of moves.

Moving a label is a release (``production`` is what every user gets), so a
protected label (``LLM_LOGS_PROTECTED_LABELS``) moves only for users whom
``LLM_LOGS_AUTHORIZE`` allows the action ``prompts.publish``.
"""

from __future__ import annotations

from typing import Any

from flask import flash
from flask import redirect
from flask import url_for
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ...prompts import PromptNotFound
from ...prompts import VersionNotFound
from ..access import PUBLISH
from ..access import ActionRefused
from ..access import may_move_label
from ..authors import current_author
from ..blueprint import blueprint
from ..posting import require_valid_form
from ..prompt_forms import LabelForm
from .prompts import NUMBER
from .prompts import _load
from .prompts import _render


@blueprint.post(f"/prompts/<slug>/versions/{NUMBER}/label")
def prompt_label_move(slug: str, number: int) -> Response:
    require_valid_form()
    form = LabelForm()
    if not form.validate():
        raise BadRequest(f"label: {' '.join(form.label.errors)}")
    label = form.label.data
    assert label is not None, "validated by InputRequired"
    if not may_move_label(label):
        raise ActionRefused(f"Moving the label {label!r}", PUBLISH)
    prompt = _load(slug)
    try:
        prompt.set_label(label, number, by=current_author())
    except VersionNotFound:
        raise NotFound(f"Prompt {slug!r} has no version {number}.") from None
    except PromptNotFound:
        raise NotFound(f"Prompt {slug!r} was deleted meanwhile.") from None
    flash(f"Label {label!r} now names version {number}.", "success")
    return redirect(url_for("llm_logs.prompt_versions", slug=slug))


@blueprint.get("/prompts/<slug>/labels")
def prompt_label_history(slug: str) -> Any:
    prompt = _load(slug)
    return _render("labels.html", prompt=prompt, moves=prompt.label_moves())
