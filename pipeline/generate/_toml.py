"""TOML reading with the line of a syntax error in the message (Python 3.11's tomllib has it only in the text)."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from pipeline.errors import InputError, Problem

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def loads(text: str, filename: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _AT.search(message)
        line = int(m.group(1)) if m else getattr(exc, "lineno", None)
        detail = _AT.sub("", message)
        where = f" (column {m.group(2)})" if m else ""
        raise InputError(Problem(filename, line, None, f"not valid TOML{where}: {detail}")) from None
