"""The codebook of the current study: every error mode with its definition and an example.

A lead may also edit it here: the edits are saved as a new codebook version (a version that labels
use is never changed), and the study switches to a version only after a preview of what that means
for its annotations. The logic is in pipeline/annotation/_codebook_edit.py.
"""

from __future__ import annotations

import streamlit as st

from annotator import _ui
from annotator.registry import ViewContext, view
from db.models import Study
from pipeline.annotation import (
    Codebook,
    ModeEdit,
    codebook_versions,
    load_codebook,
    new_codebook_version,
    next_version,
    preview_codebook_switch,
    study_codebook,
    switch_codebook,
)
from pipeline.errors import DxTraceError

RESULT = "cb_result_{}"  # ("ok", text) or ("error", exception), shown by the form's button once
SWITCH_PREVIEW = "cb_switch_preview"  # (version, preview) on screen


def _read(book: Codebook) -> None:
    if book.description:
        _ui.show_markdown(book.description)
    for i, mode in enumerate(book.error_modes, 1):
        with st.container(border=True):
            st.markdown(f"### {i} · {_ui.md_line(mode.name)}")
            st.caption(f"code: {_ui.md_line(mode.code)}")
            _ui.show_markdown(mode.definition)
            if mode.example:
                st.markdown(f"*Example.* {_ui.md(mode.example)}")


def _key(book: Codebook, what: str, code: str = "") -> str:
    # The version is in the key: after a switch the fields start from the new version's texts.
    return f"cb_{book.version}_{what}_{code}"


def edits_from_state(book: Codebook, state) -> list[ModeEdit]:
    """The modes as the lead left them in the form: kept ones edited, dropped ones out, a new one at the end."""
    edits = [
        ModeEdit(
            m.code,
            state.get(_key(book, "name", m.code), m.name),
            state.get(_key(book, "def", m.code), m.definition),
            state.get(_key(book, "ex", m.code), m.example),
        )
        for m in book.error_modes
        if not state.get(_key(book, "drop", m.code), False)
    ]
    new = [state.get(_key(book, "new", f)) or "" for f in ("name", "def", "ex")]
    if any(v.strip() for v in new):
        edits.append(ModeEdit("", *new))
    return edits


def _result(form: str) -> None:
    outcome = st.session_state.pop(RESULT.format(form), None)
    if outcome is not None:
        kind, value = outcome
        st.success(_ui.md(value)) if kind == "ok" else _ui.show_error(value)


def _save(engine, study_id: int, book: Codebook) -> None:
    state = st.session_state
    try:
        with _ui.session(engine) as s:
            row = new_codebook_version(
                s,
                study_id,
                edits_from_state(book, state),
                version=state.get(_key(book, "version")),
                title=state.get(_key(book, "title")),
            )
            version = row.version
    except DxTraceError as exc:
        state[RESULT.format("edit")] = ("error", exc)
        return
    state[RESULT.format("edit")] = (
        "ok",
        f"Saved as version {version}. The study still uses version {book.version}: switch below when ready.",
    )
    state["cb_switch_to"] = version
    state.pop(_key(book, "version"), None)  # the next save suggests the next free version again


def _switch(engine, study_id: int, version: str) -> None:
    st.session_state.pop(SWITCH_PREVIEW, None)
    try:
        with _ui.session(engine) as s:
            switch_codebook(s, study_id, version)
    except DxTraceError as exc:
        st.session_state[RESULT.format("switch")] = ("error", exc)
        return
    st.session_state[RESULT.format("switch")] = ("ok", f"The study now labels with codebook version {version}.")


def _editor(ctx: ViewContext, book: Codebook) -> None:
    st.caption(
        "Edit names, definitions and examples, drop a mode no label uses, or add one. Saving makes a new "
        "version; the current one stays as it is, with every label made under it."
    )
    with st.form("cb_edit"):
        for i, m in enumerate(book.error_modes, 1):
            with st.container(border=True):
                st.markdown(f"**Mode {i}** · code: {_ui.md_line(m.code)}")
                st.text_input("Name", value=m.name, key=_key(book, "name", m.code))
                st.text_area("Definition", value=m.definition, key=_key(book, "def", m.code), height=90)
                st.text_area("Example", value=m.example, key=_key(book, "ex", m.code), height=70)
                fixed = m.needs_description or m.exclusive
                st.checkbox(
                    "Drop this mode",
                    key=_key(book, "drop", m.code),
                    disabled=fixed,
                    help="The app relies on this mode." if fixed else "Refused if labels of this study use it.",
                )
        with st.container(border=True):
            st.markdown("**New mode** (optional)")
            st.text_input("Name", key=_key(book, "new", "name"))
            st.text_area("Definition", key=_key(book, "new", "def"), height=90)
            st.text_area("Example", key=_key(book, "new", "ex"), height=70)
        cols = st.columns(2)
        with _ui.session(ctx.engine) as s:
            suggested = next_version(s)
        cols[0].text_input("New version", value=suggested, key=_key(book, "version"))
        cols[1].text_input("Title (optional)", key=_key(book, "title"))
        st.form_submit_button(
            "Save as a new version", type="primary", on_click=_save, args=(ctx.engine, ctx.study_id, book)
        )
        _result("edit")


def _switcher(ctx: ViewContext, book: Codebook) -> None:
    with _ui.session(ctx.engine) as s:
        versions = codebook_versions(s)
    if st.session_state.get("cb_switch_to") not in versions:
        st.session_state["cb_switch_to"] = book.version
    version = st.selectbox("Codebook version", versions, key="cb_switch_to")
    if st.button("Preview the switch", key="cb_switch_preview_btn"):
        try:
            with _ui.session(ctx.engine) as s:
                st.session_state[SWITCH_PREVIEW] = (version, preview_codebook_switch(s, ctx.study_id, version))
        except DxTraceError as exc:
            _ui.show_error(exc)
    _result("switch")
    stored = st.session_state.get(SWITCH_PREVIEW)
    if stored is None or stored[0] != version:
        return
    preview = stored[1]
    for line in preview.lines():
        st.markdown(f"- {_ui.md(line)}")
    for why in preview.blocked:
        st.error(f"Cannot switch: {_ui.md(why)}")
    if preview.current != preview.new:
        st.button(
            f"Switch the study to version {_ui.md_line(version)}",
            key="cb_switch_apply",
            type="primary",
            disabled=bool(preview.blocked),
            on_click=_switch,
            args=(ctx.engine, ctx.study_id, version),
        )


@view("Codebook", slug="codebook", order=40, icon=":material/menu_book:")
def render(ctx: ViewContext) -> None:
    if ctx.study_id is not None:
        with _ui.session(ctx.engine) as s:
            _, book = study_codebook(s, s.get(Study, ctx.study_id))
    else:
        book = load_codebook()
    st.title(f"Codebook · version {_ui.md_line(book.version)}")
    if not (ctx.is_lead and ctx.study_id is not None):
        _read(book)
        return
    read, edit, switch = st.tabs(["Read", "Edit as a new version", "Switch version"])
    with read:
        _read(book)
    with edit:
        _editor(ctx, book)
    with switch:
        _switcher(ctx, book)
