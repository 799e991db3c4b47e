"""Panels: pieces a view places beside its own content (e.g. similar traces beside the trace being labelled)."""
