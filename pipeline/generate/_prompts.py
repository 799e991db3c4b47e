"""Versioned prompt templates (data/prompts/<name>.v<version>.toml), rendered with Jinja2."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from db.models import TASKS
from pipeline.errors import InputError, Problem
from pipeline.generate._backend import Message
from pipeline.generate._toml import loads as toml_loads

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "data" / "prompts"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FILE = re.compile(r"^(?P<name>[A-Za-z0-9_\-]+)\.v(?P<version>[0-9][0-9A-Za-z.\-]*)\.toml$")
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    task: str
    system: str
    user: str
    sha256: str  # of the file: the run records exactly which text was used
    path: Path
    description: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, *, vignette: str, options: list[str] | None = None, **extra: object) -> list[Message]:
        """The chat messages for one case."""
        context = {"vignette": vignette.strip(), "options": list(options or []), "letters": LETTERS, **extra}
        try:
            messages: list[Message] = []
            system = _ENV.from_string(self.system).render(context).strip()
            if system:
                messages.append({"role": "system", "content": system})
            messages.append({"role": "user", "content": _ENV.from_string(self.user).render(context).strip()})
        except jinja2.TemplateError as exc:
            raise InputError(Problem(str(self.path), getattr(exc, "lineno", None), None, f"template: {exc}")) from None
        return messages


def messages_text(messages: list[Message]) -> str:
    """The stored form of a rendered prompt: the chat messages as JSON text."""
    return json.dumps(messages, ensure_ascii=False)


def parse_template(text: str, path: Path) -> PromptTemplate:
    filename = str(path)
    raw = toml_loads(text, filename)
    problems = []
    for key in ("name", "version", "task", "user"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(Problem(filename, None, key, "missing or empty"))
    if isinstance(raw.get("task"), str) and raw["task"] not in TASKS:
        problems.append(Problem(filename, None, "task", f"must be one of {', '.join(TASKS)}"))
    for key in ("system", "user"):
        if isinstance(raw.get(key), str):
            try:
                _ENV.parse(raw[key])
            except jinja2.TemplateSyntaxError as exc:
                problems.append(Problem(filename, None, key, f"template syntax: {exc.message} (line {exc.lineno})"))
    if problems:
        raise InputError(problems)
    return PromptTemplate(
        name=raw["name"],
        version=str(raw["version"]),
        task=raw["task"],
        system=str(raw.get("system", "")),
        user=raw["user"],
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        path=path,
        description=raw.get("description"),
    )


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-]", version))


def shipped_templates(folder: Path = PROMPTS_DIR) -> dict[str, list[str]]:
    """Template name -> its versions, oldest first."""
    out: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.toml")):
        m = _FILE.match(path.name)
        if m:
            out.setdefault(m["name"], []).append(m["version"])
    return {name: sorted(vs, key=_version_key) for name, vs in out.items()}


@lru_cache(maxsize=32)
def _load(path: Path) -> PromptTemplate:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), None, None, f"cannot read template: {exc}")) from None
    return parse_template(text, path)


def load_template(ref: str, folder: Path = PROMPTS_DIR) -> PromptTemplate:
    """A template by "name" (newest version), "name@version", or a path to a .toml file."""
    path = Path(ref)
    if path.suffix == ".toml" and path.is_file():
        return _load(path.resolve())
    name, _, version = ref.partition("@")
    versions = shipped_templates(folder).get(name)
    if not versions:
        known = ", ".join(sorted(shipped_templates(folder))) or "none"
        raise InputError(Problem(ref, None, "template", f"no such prompt template (known: {known})"))
    version = version or versions[-1]
    if version not in versions:
        raise InputError(
            Problem(ref, None, "template", f"{name} has no version {version!r} (versions: {', '.join(versions)})")
        )
    return _load((folder / f"{name}.v{version}.toml").resolve())
