"""The shipped signals; importing this package registers them (order = order in tables)."""

from pipeline.signals._plugins import drift, gold, redflag  # noqa: F401
