"""The playground of a prompt version: run it with chosen inputs, side by side with another.

``GET`` shows the form, its variables pre-filled from the version's
``default_variables``, or from a past call's span (``?trace=&span=``) whose
prompt build kept its variables. ``POST`` (CSRF, and ``LLM_LOGS_AUTHORIZE``'s
yes to the action ``"prompts.run"``) runs it through
:func:`flask_llm_logs.prompts.playground.run`, and again with another
version or model when the form asks for a comparison. A run's failure is
shown on the page: the provider's errors are the answer to the question the
playground asks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from typing import cast

from flask import Request
from flask import current_app
from flask import render_template
from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.local import LocalProxy

from ...prompts import Prompt
from ...prompts import Version
from ...prompts.playground import PROVIDERS
from ...prompts.playground import Run
from ...prompts.playground import provider_for
from ...prompts.playground import run
from ...state import get_state
from ...tracing.records import PROMPT_VARIABLES
from .. import params
from .. import prompt_queries
from .. import trace_queries
from ..access import RUN
from ..access import ActionRefused
from ..access import is_allowed
from ..blueprint import blueprint
from ..forms import Form
from ..mustache import pieces
from ..posting import require_valid_form
from .prompts import NUMBER
from .prompts import PREVIEW_PREFIX
from .prompts import _load
from .prompts import _nest
from .prompts import _version


def _shown(value: Any) -> str:
    """A variable's value as the form shows it: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _typed(text: str) -> Any:
    """A typed value: JSON lists and objects (for sections) are parsed, the rest is text."""
    if text.strip().startswith(("[", "{")):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _past_variables(args: Mapping[str, str]) -> Mapping[str, Any]:
    """The variables kept on the span ``?trace=&span=`` names (none without both)."""
    trace_id, span_id = args.get("trace"), args.get("span")
    if not trace_id or not span_id:
        return {}
    _, span = trace_queries.get_span(
        get_state().session, params.parse_id(trace_id), params.parse_id(span_id)
    )
    kept = (span.metadata_ or {}).get(PROMPT_VARIABLES)
    return kept if isinstance(kept, Mapping) else {}


def _fields(prompt: Prompt, version: Version, given: Mapping[str, Any]) -> list[tuple[str, str]]:
    values = {**version.default_variables, **given}
    names = version.variables
    return [(name, _shown(values[name]) if name in values else "") for name in names]


def _page(
    prompt: Prompt,
    version: Version,
    fields: list[tuple[str, str]],
    form: Mapping[str, str],
    runs: list[Run],
    error: str | None = None,
) -> tuple[str, int]:
    numbers = prompt_queries.version_numbers(get_state().session, prompt.id)
    return render_template(
        "llm_logs/prompts/playground.html",
        prompt=prompt,
        version=version,
        fields=fields,
        form=form,
        numbers=numbers,
        providers=list(PROVIDERS),
        runs=runs,
        error=error,
        action_form=Form(),
        prefix=PREVIEW_PREFIX,
        pieces=pieces,
    ), 200


def _defaults(version: Version) -> dict[str, str]:
    return {
        "model": version.model or "",
        "provider": provider_for(version.model),
        "model_params": json.dumps(dict(version.model_params), indent=2, ensure_ascii=False),
        "compare_version": "",
        "compare_model": "",
    }


@blueprint.get(f"/prompts/<slug>/versions/{NUMBER}/playground")
def prompt_playground(slug: str, number: int) -> Any:
    prompt = _load(slug)
    version = _version(prompt, number)
    fields = _fields(prompt, version, _past_variables(request.args))
    return _page(prompt, version, fields, _defaults(version), [])


def _model_params(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError as error:
        raise ValueError(f"Model parameters: not JSON ({error}).") from None
    if not isinstance(value, dict):
        raise ValueError('Model parameters: must be a JSON object, such as {"temperature": 0.3}.')
    return value


@blueprint.post(f"/prompts/<slug>/versions/{NUMBER}/playground")
def prompt_playground_run(slug: str, number: int) -> Any:
    require_valid_form()
    current_request = cast("LocalProxy[Request]", request)._get_current_object()
    if not is_allowed(current_app, current_request, RUN):
        raise ActionRefused("Running a prompt", RUN)
    prompt = _load(slug)
    version = _version(prompt, number)
    form = {key: request.form.get(key, "") for key in _defaults(version)}
    typed = {name: request.form.get(PREVIEW_PREFIX + name, "") for name in version.variables}
    fields = list(typed.items())
    variables = _nest({name: _typed(value) for name, value in typed.items() if value})
    if form["provider"] not in PROVIDERS:
        raise BadRequest(f"provider: must be one of {', '.join(PROVIDERS)}.")
    try:
        model_params = _model_params(form["model_params"])
    except ValueError as error:
        return _page(prompt, version, fields, form, [], str(error))
    model = form["model"].strip() or None
    runs = [
        run(
            prompt,
            version,
            variables,
            model=model,
            model_params=model_params,
            provider=form["provider"],
        )
    ]
    other_number = params.int_arg(form, "compare_version")
    other_model = form["compare_model"].strip() or None
    if other_number is not None or other_model is not None:
        other = _version(prompt, other_number) if other_number is not None else version
        same_params = other.version_number == version.version_number
        runs.append(
            run(
                prompt,
                other,
                variables,
                model=other_model or (model if same_params else None),
                model_params=model_params if same_params else None,
                provider=provider_for(other_model) if other_model else None,
            )
        )
    return _page(prompt, version, fields, form, runs)
