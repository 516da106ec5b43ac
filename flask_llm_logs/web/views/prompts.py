"""Prompts: the list, a prompt with its preview, the editor, versions, compare, restore, delete.

Reads use :mod:`..prompt_queries` and ``Prompt.load(slug, cache=False)``, so
a page always shows what is stored, never a cached snapshot; every write goes
through the :class:`~flask_llm_logs.Prompt` API, which commits on return.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ...prompts import InvalidPrompt
from ...prompts import MissingVariables
from ...prompts import Prompt
from ...prompts import PromptAlreadyExists
from ...prompts import PromptError
from ...prompts import PromptNotFound
from ...prompts import Version
from ...prompts import VersionNotFound
from ...state import get_state
from .. import params
from .. import prompt_queries
from .. import prompt_results
from ..access import PUBLISH
from ..access import may_move_label
from ..authors import current_author
from ..blueprint import blueprint
from ..diff import compare
from ..forms import Form
from ..mustache import pieces
from ..posting import require_valid_form
from ..prompt_forms import LabelForm
from ..prompt_forms import NewPromptForm
from ..prompt_forms import PromptForm
from ..prompt_forms import version_content

SORT_LABELS = {"updated": "Last update", "name": "Name", "slug": "Slug"}
#: Versions and traces shown on a prompt's page; the history has the rest.
RECENT = 5
#: Preview fields are ``?var-<variable>=value``.
PREVIEW_PREFIX = "var-"
#: The label the editor's "Publish as production" moves.
PUBLISHED = "production"
#: A version number in a URL; larger numbers than the column holds are a 404, not a 500.
NUMBER = f"<int(max={params.MAX_INTEGER_ID}):number>"


def _load(slug: str) -> Prompt:
    try:
        # The latest version, whatever LLM_LOGS_PROMPT_LABEL says: the UI edits drafts.
        return Prompt.load(slug, cache=False, label=None)
    except (PromptNotFound, InvalidPrompt):  # no prompt can have an invalid slug
        raise NotFound(f"There is no prompt {slug!r}.") from None


def _version(prompt: Prompt, number: int) -> Version:
    try:
        return prompt.version(number)
    except VersionNotFound:
        raise NotFound(f"Prompt {prompt.slug!r} has no version {number}.") from None


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("pieces", pieces)
    return render_template(f"llm_logs/prompts/{template}", **context), status


# The list ---------------------------------------------------------------------


@blueprint.get("/prompts")
def prompts() -> Any:
    sort = request.args.get("sort", "updated")
    if sort not in prompt_queries.SORTS:
        raise BadRequest(f"sort: must be one of {', '.join(prompt_queries.SORTS)}.")
    tag = params.text_arg(request.args, "tag")
    session = get_state().session
    return _render(
        "index.html",
        rows=prompt_queries.list_prompts(session, sort, tag),
        tags=prompt_queries.all_tags(session),
        sort=sort,
        sorts=SORT_LABELS,
        tag=tag,
    )


# One prompt and its preview ---------------------------------------------------


@dataclasses.dataclass
class Preview:
    """The preview form: one field per variable, and the messages it renders."""

    #: (variable, what was typed, its default) for each variable.
    fields: list[tuple[str, str, str | None]]
    messages: list[Mapping[str, Any]] | None = None
    missing: tuple[str, ...] = ()
    error: str | None = None


def _nest(values: Mapping[str, str]) -> dict[str, Any]:
    """``{"user.name": "Ada"}`` as ``{"user": {"name": "Ada"}}``: how Mustache looks it up."""
    nested: dict[str, Any] = {}
    for name, value in sorted(values.items(), key=lambda item: item[0].count(".")):
        *parents, last = name.split(".")
        target = nested
        for part in parents:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[last] = value
    return nested


def _preview(prompt: Prompt, args: Mapping[str, str]) -> Preview:
    version = prompt.current_version
    if version is None:
        return Preview(fields=[])
    defaults = version.default_variables
    fields = [
        (
            name,
            args.get(PREVIEW_PREFIX + name, ""),
            None if defaults.get(name) is None else str(defaults[name]),
        )
        for name in prompt.variables
    ]
    preview = Preview(fields)
    if "preview" not in args:
        return preview
    values = _nest({name: typed for name, typed, _ in fields if typed})
    try:
        try:
            built = prompt.build(values, strict=True)
        except MissingVariables as error:
            preview.missing = error.names
            built = prompt.build(values, strict=False)
    except PromptError as error:  # a missing partial, a render limit...
        preview.error = str(error)
    else:
        preview.messages = built["messages"]
    return preview


@blueprint.get("/prompts/<slug>")
def prompt(slug: str) -> Any:
    prompt = _load(slug)
    session = get_state().session
    results = prompt_results.labelled_results(session, prompt.id)
    return _render(
        "show.html",
        prompt=prompt,
        version=prompt.current_version,
        versions=prompt_queries.version_rows(session, prompt.id, RECENT),
        traces=prompt_queries.recent_traces(session, prompt.id, RECENT),
        preview=_preview(prompt, request.args),
        preview_prefix=PREVIEW_PREFIX,
        labels=prompt_results.labels_of(results),
        moves=prompt.label_moves(RECENT),
        results=results,
        score_names=prompt_results.score_names(results),
        percentiles=prompt_results.PERCENTILES,
    )


# New and edit -----------------------------------------------------------------


def _refuse_nul(form: MultiDict[str, str]) -> None:
    """A NUL cannot be typed, and PostgreSQL refuses to store one: the request is malformed."""
    for key, value in form.items(multi=True):
        if "\x00" in value or "\x00" in key:
            raise BadRequest(f"{key}: contains a NUL character.")


def _editor(form: PromptForm, prompt: Prompt | None) -> tuple[str, int]:
    """The editor page, shown again with its errors as Flask forms are (200); 400 for CSRF."""
    status = 400 if "csrf_token" in form.errors else 200
    return _render(
        "form.html", status, form=form, prompt=prompt, may_publish=may_move_label(PUBLISHED)
    )


@blueprint.route("/prompts/new", methods=["GET", "POST"])
def prompt_new() -> Any:
    _refuse_nul(request.form)
    form = NewPromptForm()
    if request.method == "GET" or form.apply_editor_action(request.form):
        return _editor(form, None)
    if not form.validate():
        return _editor(form, None)
    slug = form.slug.data
    assert slug is not None, "validated by InputRequired"
    try:
        prompt = Prompt.create_with_content(
            slug, **form.metadata(), **form.content(), changelog=form.changelog.data
        )
    except PromptAlreadyExists as error:
        # A field's errors are a tuple until it is validated, then a list.
        form.slug.errors = [*form.slug.errors, f"A prompt with slug {error.slug!r} already exists."]
        return _editor(form, None)
    except InvalidPrompt as error:
        form.form_errors.append(str(error))
        return _editor(form, None)
    flash(f"Created prompt {prompt.slug!r} with version 1.", "success")
    return redirect(url_for("llm_logs.prompt", slug=prompt.slug))


def _save(prompt: Prompt, form: PromptForm) -> str:
    """Save what changed; only a change of content makes a version. Returns the flash text.

    "Publish as production" moves the label in the save's transaction, or
    to the current version if the content did not change.
    """
    content = form.content()
    current = prompt.current_version
    publish = PUBLISHED if form.publish.data else None
    saved = []
    if current is None or content != version_content(current):
        version = prompt.update_content(
            **content, changelog=form.changelog.data, label=publish, by=current_author()
        )
        saved.append(f"version {version.version_number}")
    elif publish is not None:
        prompt.set_label(publish, current.version_number, by=current_author())
    if publish is not None:
        saved.append(f"{publish} now names version {prompt.labels[publish]}")
    metadata = form.metadata()
    if metadata != {"name": prompt.name, "description": prompt.description, "tags": prompt.tags}:
        prompt.update(**metadata)
        saved.append("name, description and tags")
    if not saved:
        return "Nothing changed, so no version was made."
    return f"Saved {' and '.join(saved)}."


@blueprint.route("/prompts/<slug>/edit", methods=["GET", "POST"])
def prompt_edit(slug: str) -> Any:
    prompt = _load(slug)
    if request.method == "GET":
        form = PromptForm(formdata=None, data=PromptForm.data_of(prompt))
        return _editor(form, prompt)
    _refuse_nul(request.form)
    form = PromptForm()
    if form.apply_editor_action(request.form) or not form.validate():
        return _editor(form, prompt)
    if form.publish.data and not may_move_label(PUBLISHED):
        form.publish.errors = [f"Publishing needs the permission {PUBLISH!r}."]
        return _editor(form, prompt)
    try:
        message = _save(prompt, form)
    except PromptNotFound:
        raise NotFound(f"Prompt {slug!r} was deleted meanwhile.") from None
    except InvalidPrompt as error:
        form.form_errors.append(str(error))
        return _editor(form, prompt)
    flash(message, "success")
    return redirect(url_for("llm_logs.prompt", slug=prompt.slug))


# Versions -----------------------------------------------------------------------


@blueprint.get("/prompts/<slug>/versions")
def prompt_versions(slug: str) -> Any:
    prompt = _load(slug)
    before = params.int_arg(request.args, "before")
    page_size = get_state().settings.page_size
    rows = prompt_queries.version_rows(get_state().session, prompt.id, page_size + 1, before)
    next_before = rows[page_size - 1].version_number if len(rows) > page_size else None
    current = prompt.current_version
    labels = prompt.labels
    return _render(
        "versions.html",
        prompt=prompt,
        rows=rows[:page_size],
        current_number=current.version_number if current else None,
        next_before=next_before,
        before=before,
        action_form=Form(),
        label_form=LabelForm(),
        labels=labels,
        protected=sorted(get_state().prompt_store.labels.protected),
    )


@blueprint.get(f"/prompts/<slug>/versions/{NUMBER}")
def prompt_version(slug: str, number: int) -> Any:
    prompt = _load(slug)
    current = prompt.current_version
    return _render(
        "version.html",
        prompt=prompt,
        version=_version(prompt, number),
        current_number=current.version_number if current else None,
        action_form=Form(),
    )


@blueprint.get("/prompts/<slug>/compare")
def prompt_compare(slug: str) -> Any:
    prompt = _load(slug)
    numbers = prompt_queries.version_numbers(get_state().session, prompt.id)
    if not numbers:
        raise NotFound(f"Prompt {slug!r} has no versions to compare.")
    new_number = params.int_arg(request.args, "to") or numbers[0]
    old_number = params.int_arg(request.args, "from")
    if old_number is None:
        older = [n for n in numbers if n < new_number]
        old_number = older[0] if older else new_number
    found = prompt_queries.versions(get_state().session, prompt.id, {old_number, new_number})
    for number in (old_number, new_number):
        if number not in found:
            raise NotFound(f"Prompt {slug!r} has no version {number}.")
    old, new = found[old_number], found[new_number]
    return _render(
        "compare.html",
        prompt=prompt,
        old=old,
        new=new,
        numbers=numbers,
        diff=compare(old, new),
    )


@blueprint.post(f"/prompts/<slug>/versions/{NUMBER}/restore")
def prompt_restore(slug: str, number: int) -> Response:
    require_valid_form()
    prompt = _load(slug)
    try:
        version = prompt.rollback_to(number)
    except VersionNotFound:
        raise NotFound(f"Prompt {slug!r} has no version {number}.") from None
    flash(f"Restored version {number} as version {version.version_number}.", "success")
    return redirect(url_for("llm_logs.prompt", slug=slug))


@blueprint.post(f"/prompts/<slug>/versions/{NUMBER}/delete")
def prompt_version_delete(slug: str, number: int) -> Response:
    require_valid_form()
    prompt = _load(slug)
    try:
        prompt.delete_version(number)
    except VersionNotFound:
        raise NotFound(f"Prompt {slug!r} has no version {number}.") from None
    except InvalidPrompt as error:
        flash(f"Not deleted: {error}.", "error")
    else:
        flash(f"Deleted version {number}.", "success")
    return redirect(url_for("llm_logs.prompt_versions", slug=slug))


@blueprint.get("/prompts/<slug>/delete")
def prompt_delete_confirm(slug: str) -> Any:
    """The confirmation step: what deleting the prompt takes away, and the button."""
    prompt = _load(slug)
    count = len(prompt_queries.version_numbers(get_state().session, prompt.id))
    return _render("delete.html", prompt=prompt, version_count=count, form=Form())


@blueprint.post("/prompts/<slug>/delete")
def prompt_delete(slug: str) -> Response:
    require_valid_form()
    _load(slug).delete()
    flash(f"Deleted prompt {slug!r} and all its versions.", "success")
    return redirect(url_for("llm_logs.prompts"))
