"""The lead's red-flag list: the active version with the source of every entry, and loading a new version."""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ROLES_LEAD, ViewContext, view
from pipeline.errors import DxTraceError
from pipeline.signals import active_redflags, from_row, load_redflags, parse_redflags


def load_new_version(engine, text: str, name: str) -> str:
    """Parse and store an uploaded list; the message to show. Nothing is written if it is refused."""
    flags = parse_redflags(text, name)
    with _ui.session(engine) as s:
        load_redflags(s, flags)
    return f"Red-flag list version {flags.version} loaded ({len(flags.flags)} entries); it is now active."


@view("Red flags", slug="redflags", roles=ROLES_LEAD, order=64, icon=":material/flag:")
def render(ctx: ViewContext) -> None:
    st.title("Red-flag list")
    with _ui.session(ctx.engine) as s:
        flags = from_row(active_redflags(s))
    st.caption(
        f"Version {flags.version} · {len(flags.flags)} entries. The signal 'red flags not taken up' looks for these "
        "in each vignette and trace (docs/signals.md). Never change a loaded version: upload a copy with a new version."
    )
    st.dataframe(
        [{"id": f.id, "name": f.name, "terms": "; ".join(f.terms), "source": f.source} for f in flags.flags],
        hide_index=True,
        width="stretch",
        key="rf_table",
    )
    upload = st.file_uploader("Load a new version (TOML, like data/redflags/v1.toml)", type=["toml"], key="rf_upload")
    if upload is not None and st.button("Load this version", key="rf_load", type="primary"):
        try:
            text = upload.getvalue().decode("utf-8")
            st.success(load_new_version(ctx.engine, text, upload.name))
        except UnicodeDecodeError:
            st.error(f"{upload.name}: not UTF-8 text")
        except DxTraceError as exc:
            _ui.show_error(exc)
