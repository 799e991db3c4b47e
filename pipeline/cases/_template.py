"""A vignette built from several fields of a record, with a Jinja2 template or a list of headed sections.

The template runs in Jinja2's sandbox (a mapping file is input, not code). Each `{{ ... }}` must give
text: a dict or list would print as Python and could carry the gold diagnosis into the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from pipeline._fields import FieldPath, kind_of, scalar_text
from pipeline.errors import Problem


class NotText(Exception):
    """A template expression gave a dict or a list."""


def _finalize(value: Any) -> Any:
    kind = kind_of(value)
    if kind:
        raise NotText(f"a template expression gives {kind}, not text; name one field inside it")
    return "" if value is None else value


_ENV = SandboxedEnvironment(
    undefined=ChainableUndefined, finalize=_finalize, autoescape=False, keep_trailing_newline=False
)
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def template_problems(template: str, filename: str) -> list[Problem]:
    try:
        _ENV.from_string(template)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return [Problem(filename, None, "vignette.template", f"not a valid Jinja2 template (line {line}): {exc}")]
    return []


def render_template(template: str, record: dict) -> str:
    """The template with the record's fields as variables (and the whole record as `row`); runs of blank lines collapse."""
    context = {k: v for k, v in record.items() if isinstance(k, str) and k.isidentifier()}
    text = _ENV.from_string(template).render({**context, "row": record})
    return _BLANK_LINES.sub("\n\n", text).strip()


def render_sections(paths: Sequence[tuple[str, FieldPath]], record: dict) -> tuple[str, list[tuple[FieldPath, Any]]]:
    """`Heading: text` paragraphs of the non-empty fields; also the fields whose value is not text."""
    parts, bad = [], []
    for heading, path in paths:
        value = path.get(record)
        if kind_of(value):
            bad.append((path, value))
            continue
        text = scalar_text(value)
        if text:
            parts.append(f"{heading}: {text}" if heading else text)
    return "\n\n".join(parts), bad


__all__ = ["NotText", "render_sections", "render_template", "template_problems"]
