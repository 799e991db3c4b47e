"""The extension point of the app: each page is a view registered with @view.

A feature adds a module in annotator/views/ that registers its page; app.py
discovers the modules and shows each signed-in person the views of their role.
A view's render() is a thin layer over plain functions that tests call directly.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

ROLES_ALL = frozenset({"annotator", "lead"})
ROLES_LEAD = frozenset({"lead"})


@dataclass(frozen=True)
class ViewContext:
    """What every view gets: the database, who is signed in, and the current study."""

    engine: Engine
    annotator_id: int
    username: str
    role: str
    study_id: int | None

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


@dataclass(frozen=True)
class View:
    slug: str
    title: str
    render: Callable[[ViewContext], None]
    roles: frozenset[str]
    order: int
    icon: str | None


_VIEWS: dict[str, View] = {}


def view(title: str, *, slug: str, roles: frozenset[str] = ROLES_ALL, order: int = 50, icon: str | None = None):
    """Register `render(ctx)` as a page of the app."""

    def register(render: Callable[[ViewContext], None]):
        _VIEWS[slug] = View(slug, title, render, frozenset(roles), order, icon)
        return render

    return register


def discover() -> None:
    import annotator.views as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def views_for(role: str) -> list[View]:
    discover()
    return sorted((v for v in _VIEWS.values() if role in v.roles), key=lambda v: (v.order, v.title))
