"""The trace page's form that adds a score or a comment.

What it stores is what :func:`flask_llm_logs.score` stores, with
``source="ui"`` and the UI user as author; it is written at once, in the
request, so the page shows it on the redirect (the background writer would
show it a moment later).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from wtforms import FloatField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Length
from wtforms.validators import Optional

from ..models import Score
from .forms import Form
from .forms import blank_to_none
from .forms import normalize_newlines
from .forms import number

#: The name of a comment added without a score: a comment is a score with
#: neither value nor label.
COMMENT_NAME = "comment"
MAX_COMMENT_LENGTH = 10_000


class ScoreForm(Form):
    name = StringField("Name", validators=[Length(max=255)], filters=[blank_to_none])
    value = FloatField("Value", validators=[Optional(), number])
    label = StringField("Label", validators=[Length(max=255)], filters=[blank_to_none])
    comment = TextAreaField(
        "Comment",
        validators=[Length(max=MAX_COMMENT_LENGTH)],
        filters=[normalize_newlines, blank_to_none],
    )

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Each field's checks, then: a name for a value or a label; something to store."""
        if not super().validate(extra_validators):
            return False
        if self.value.data is None and self.label.data is None:
            if self.comment.data is None:
                self.form_errors.append("Give a value, a label or a comment.")
                return False
        elif self.name.data is None:
            self.name.errors = ["Name the score (helpful, accuracy, tone…)."]
            return False
        return True

    def score(self, trace_id: uuid.UUID, author: str | None) -> Score:
        """The validated form as a score of ``trace_id``."""
        return Score(
            trace_id=trace_id,
            name=self.name.data or COMMENT_NAME,
            value=self.value.data,
            label=self.label.data,
            comment=self.comment.data,
            source="ui",
            author=author,
        )
