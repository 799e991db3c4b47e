"""The study database: tables, engine, sessions and migrations."""

from db import models
from db.engine import database_url, get_engine, make_engine, redact, session_scope
from db.migrate import upgrade

__all__ = ["database_url", "get_engine", "make_engine", "models", "redact", "session_scope", "upgrade"]
