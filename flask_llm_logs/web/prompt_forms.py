"""The prompt editor's forms: validation with errors next to each field, and what they save.

The messages editor is a ``FieldList`` of role + content entries. Adding,
removing and reordering messages are plain submit buttons handled on the
server (:meth:`PromptForm.apply_editor_action`), so the editor works without
JavaScript and never loses what was typed.

Templates are checked with the prompts package's own parser, so the editor
refuses exactly what :meth:`Prompt.update_content` would refuse, and says on
which line.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from werkzeug.datastructures import MultiDict
from wtforms import BooleanField
from wtforms import Field
from wtforms import FieldList
from wtforms import FloatField
from wtforms import Form
from wtforms import FormField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.validators import StopValidation
from wtforms.validators import ValidationError
from wtforms.widgets import TextArea
from wtforms.widgets import TextInput

from ..prompts import InvalidPrompt
from ..prompts import Prompt
from ..prompts import PromptNotFound
from ..prompts import SectionsTooDeep
from ..prompts import TemplateSyntaxError
from ..prompts import Version
from ..prompts.labels import LABEL_PATTERN
from ..prompts.validation import RESERVED_PARAMS
from ..prompts.validation import ROLES
from ..prompts.validation import check_slug
from ..prompts.validation import check_template
from ..state import get_state
from .forms import Form as BaseForm
from .forms import blank_to_none
from .forms import normalize_newlines
from .forms import number

#: Model parameters with a typed field of their own; any other goes in the JSON field.
TYPED_PARAMS: dict[str, tuple[type, ...]] = {
    "temperature": (int, float),
    "max_tokens": (int,),
    "top_p": (int, float),
}

#: The editor's buttons besides "save": ``add_message``, ``remove_message-2``...
_EDITOR_BUTTON = re.compile(r"(add_message)|(remove_message|move_up|move_down)-(\d+)")


class TagsField(Field):
    """Tags typed as ``a, b, c``; the data is the list of distinct, non-empty tags."""

    widget = TextInput()
    data: list[str] | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            tags = (tag.strip() for tag in str(valuelist[0]).split(","))
            self.data = list(dict.fromkeys(tag for tag in tags if tag))

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return ", ".join(self.data or ())


class JSONObjectField(Field):
    """A JSON object typed as text; what was typed is shown again when it does not parse."""

    # types-WTForms ties TextArea to StringField; it renders any field's _value().
    widget = TextArea()  # type: ignore[assignment]
    #: ``None`` while what was typed does not parse.
    data: dict[str, Any] | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        text = str(valuelist[0]).strip()
        if not text:
            self.data = {}
            return
        self.data = None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
            ) from None
        if not isinstance(value, dict):
            raise ValueError('Enter a JSON object, such as {"seed": 7}.')
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if not self.data:
            return ""
        return json.dumps(self.data, indent=2, ensure_ascii=False)


class MessageForm(Form):
    """One message of the editor: a sub-form, the outer form carries the CSRF token."""

    # Plain values: WTForms 3.3 deprecates (value, label) tuples, which types-WTForms wants.
    role = SelectField("Role", choices=list(ROLES), default="user")  # type: ignore[arg-type]
    name = StringField(
        "Name",
        validators=[Optional(), Length(max=255)],
        filters=[blank_to_none],
        description="Optional participant name.",
    )
    content = TextAreaField("Content", filters=[normalize_newlines])

    def validate_content(self, field: Field) -> None:
        if not field.data or not field.data.strip():
            raise StopValidation("A message needs content.")
        try:
            check_template(field.data, "message", get_state().prompt_store.limits)
        except TemplateSyntaxError as error:
            raise ValidationError(f"Line {error.line}: {error.detail}.") from None
        except SectionsTooDeep as error:
            raise ValidationError(_sentence(str(error))) from None

    def message(self) -> dict[str, Any]:
        """The message as stored: ``name`` only when one was given."""
        message = {"role": self.role.data, "content": self.content.data or ""}
        if self.name.data:
            message["name"] = self.name.data
        return message


class PromptForm(BaseForm):
    """Edit an existing prompt: metadata and the content of its next version.

    The slug is not here: it is permanent, since code and partials use it.
    """

    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    description = TextAreaField("Description", filters=[normalize_newlines, blank_to_none])
    tags = TagsField("Tags", default=list, description="Separated by commas.")
    messages = FieldList(FormField(MessageForm), min_entries=1)
    model = StringField("Model", validators=[Optional(), Length(max=255)], filters=[blank_to_none])
    temperature = FloatField("Temperature", validators=[Optional(), number, NumberRange(0, 2)])
    max_tokens = IntegerField("Max tokens", validators=[Optional(), number, NumberRange(min=1)])
    top_p = FloatField("Top p", validators=[Optional(), number, NumberRange(0, 1)])
    extra_params = JSONObjectField(
        "Other parameters",
        default=dict,
        description='A JSON object of other parameters, such as {"seed": 7}.',
    )
    default_variables = JSONObjectField(
        "Default variables",
        default=dict,
        description="A JSON object of values for variables the caller does not pass.",
    )
    changelog = StringField(
        "Changelog",
        filters=[normalize_newlines, blank_to_none],
        description="What changed, shown in the version history.",
    )
    #: Shown when editing, to users who may move the ``production`` label.
    publish = BooleanField(
        "Publish as production",
        description="Point the production label at this version as it is saved.",
    )

    @classmethod
    def data_of(cls, prompt: Prompt) -> dict[str, Any]:
        """The form's initial data for ``prompt`` and its current version."""
        data: dict[str, Any] = {
            "name": prompt.name,
            "description": prompt.description,
            "tags": list(prompt.tags),
        }
        version = prompt.current_version
        if version is not None:
            data.update(content_data(version))
        return data

    def validate_extra_params(self, field: Field) -> None:
        if field.data is None:
            return  # did not parse; the reason is already in the field's errors
        reserved = [key for key in RESERVED_PARAMS if key in field.data]
        if reserved:
            raise ValidationError(
                f"{', '.join(reserved)} cannot be a parameter: the model has its own field"
                " and the messages are the prompt."
            )
        twice = [key for key in TYPED_PARAMS if key in field.data and self[key].data is not None]
        if twice:
            raise ValidationError(f"{', '.join(twice)} is already set in its own field above.")
        for key, value in field.data.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValidationError(f"{key}: {value} is not a number JSON can store.")

    # What the form saves --------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`Prompt.update`."""
        return {
            "name": self.name.data,
            "description": self.description.data,
            "tags": self.tags.data or [],
        }

    def model_params(self) -> dict[str, Any]:
        params = dict(self.extra_params.data or {})
        for key in TYPED_PARAMS:
            value = self[key].data
            if value is not None:
                params[key] = value
        return params

    def content(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`Prompt.update_content` (without the changelog)."""
        return {
            "messages": [entry.form.message() for entry in self.messages],
            "model": self.model.data,
            "model_params": self.model_params(),
            "default_variables": dict(self.default_variables.data or {}),
        }

    # The messages editor ----------------------------------------------------

    def apply_editor_action(self, formdata: MultiDict[str, Any]) -> bool:
        """Add, remove or move a message if one of those buttons was pressed.

        :return: whether one was, in which case the form is shown again
            instead of being saved.
        """
        for key in formdata:
            match = _EDITOR_BUTTON.fullmatch(key)
            if match is None:
                continue
            if match[1]:
                self.messages.append_entry()
                return True
            action, index = match[2], int(match[3])
            if index >= len(self.messages):
                return True
            if action == "remove_message":
                # types-WTForms predates pop_entry's index argument.
                self.messages.pop_entry(index)  # type: ignore[call-arg]
                if not self.messages.entries:
                    self.messages.append_entry()
            elif action == "move_up" and index > 0:
                _swap(self.messages[index - 1], self.messages[index])
            elif action == "move_down" and index < len(self.messages) - 1:
                _swap(self.messages[index], self.messages[index + 1])
            return True
        return False


class NewPromptForm(PromptForm):
    """Create a prompt: the edit form plus its permanent slug."""

    slug = StringField(
        "Slug",
        validators=[InputRequired(), Length(max=255)],
        filters=[lambda value: value.strip() if value else value],
        description="Used in code: Prompt.load(slug) and {{> slug}} partials. Cannot change.",
    )

    def validate_slug(self, field: Field) -> None:
        try:
            check_slug(field.data)
        except InvalidPrompt as error:
            raise ValidationError(_sentence(str(error))) from None
        try:
            Prompt.load(field.data, cache=False, label=None)
        except PromptNotFound:
            return
        raise ValidationError(f"A prompt with slug {field.data!r} already exists.")


def content_data(version: Version) -> dict[str, Any]:
    """A version's content as form data: known parameters in their typed fields."""
    params = copy.deepcopy(version.model_params)
    data: dict[str, Any] = {}
    for key, types in TYPED_PARAMS.items():
        value = params.get(key)
        if isinstance(value, types) and not isinstance(value, bool):
            data[key] = params.pop(key)
    data.update(
        messages=copy.deepcopy(version.messages),
        model=version.model,
        extra_params=params,
        default_variables=copy.deepcopy(version.default_variables),
    )
    return data


def version_content(version: Version) -> dict[str, Any]:
    """A version's content shaped like :meth:`PromptForm.content`, to tell whether it changed.

    The version's read-only lists and dicts compare equal to plain ones.
    """
    return {
        "messages": version.messages,
        "model": version.model,
        "model_params": version.model_params,
        "default_variables": version.default_variables,
    }


def _swap(first: FormField[MessageForm], second: FormField[MessageForm]) -> None:
    for name in ("role", "name", "content"):
        a, b = first.form[name], second.form[name]
        a.data, b.data = b.data, a.data
        a.raw_data, b.raw_data = b.raw_data, a.raw_data


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


#: What the label field says when refused.
LABEL_RULE = (
    "Use 1 to 50 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit."
)


class LabelForm(BaseForm):
    """Point a label at a version, from the version list."""

    label = StringField(
        "Label",
        validators=[InputRequired(), Regexp(LABEL_PATTERN.pattern + r"\Z", message=LABEL_RULE)],
    )
