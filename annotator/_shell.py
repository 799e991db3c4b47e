"""The frame of the app: sign-in, the current study, the sidebar, and navigation over the registered views."""

from __future__ import annotations

import time

import streamlit as st
from sqlalchemy.exc import DatabaseError

from annotator import _session_token, _ui
from annotator.registry import ROLES_LEAD, View, ViewContext, views_for
from db.migrate import SchemaTooNew
from db.models import ROLE_LEAD, Annotator, Study
from pipeline.annotation import MAX_FAILED_SIGN_INS, authenticate, progress, studies_for

USER_KEY = "dx_user_id"
STUDY_KEY = "dx_study_id"
FAILED_KEY = "dx_failed_sign_ins"


def _sign_in_form(engine) -> None:
    st.title("DxTrace")
    st.caption("Sign in to label reasoning traces. Accounts are created by your study lead.")
    with st.form("sign_in"):
        username = st.text_input("Username", key="sign_in_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign_in_password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    failures = st.session_state.get(FAILED_KEY, 0)
    if failures >= 3:  # slows down guessing from one browser session
        time.sleep(min(2 * (failures - 2), 10))
    with _ui.session(engine) as s:
        person = authenticate(s, username.strip(), password)
        person_id = person.id if person else None
    if person_id is None:
        st.session_state[FAILED_KEY] = failures + 1
        st.error(
            "Unknown username or wrong password (or the account is deactivated). After "
            f"{MAX_FAILED_SIGN_INS} wrong passwords in a row an account is locked for a while; "
            "your study lead can unlock it."
        )
        return
    st.session_state.pop(FAILED_KEY, None)
    st.session_state.pop("sign_in_password", None)
    st.session_state[USER_KEY] = person_id
    _session_token.remember(engine, person_id)
    st.rerun()


def sign_out() -> None:
    _session_token.forget(_ui.engine())
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def _current_person(engine) -> Annotator | None:
    person_id = st.session_state.get(USER_KEY)
    if person_id is None:  # a new browser session: a valid session token signs the person in again
        person_id = _session_token.person_from_cookie(engine)
        if person_id is None:
            return None
        st.session_state[USER_KEY] = person_id
    with _ui.session(engine) as s:
        person = s.get(Annotator, person_id)
    if person is None or not person.active:  # deactivated while signed in
        sign_out()
        return None
    return person


def _pick_study(engine, person: Annotator) -> tuple[Study | None, int]:
    with _ui.session(engine) as s:
        studies = studies_for(s, person)
    if not studies:
        return None, 0
    by_id = {st_.id: st_ for st_ in studies}
    current = st.session_state.get(STUDY_KEY)
    if current not in by_id:
        current = studies[0].id
        st.session_state[STUDY_KEY] = current
    if len(studies) > 1:
        st.sidebar.selectbox(
            "Study",
            options=list(by_id),
            format_func=lambda i: by_id[i].name,
            key=STUDY_KEY,
        )
    return by_id[st.session_state[STUDY_KEY]], len(studies)


def _page(v: View, ctx: ViewContext):
    def render() -> None:
        v.render(ctx)

    render.__name__ = f"view_{v.slug}"
    return render


def landing_slug(role: str, views: list[View]) -> str | None:
    """The page a person lands on: a lead on the study overview, an annotator on their first page."""
    slugs = [v.slug for v in views]
    if role == ROLE_LEAD and "overview" in slugs:
        return "overview"
    return slugs[0] if slugs else None


def main(default_slug: str | None = None) -> None:
    """Run the app. default_slug picks the page shown first (tests use it; people use the sidebar)."""
    # No page_icon: Streamlit fetches a material-symbol favicon from the internet, and nothing may leave the machine.
    st.set_page_config(page_title="DxTrace annotation", layout="wide")
    _ui.readable_style()
    try:
        engine = _ui.engine()
    except (SchemaTooNew, DatabaseError) as exc:  # a newer DxTrace's database, or a file that is not one
        st.error(f"Cannot open the study database: {exc}")
        return
    person = _current_person(engine)
    _session_token.write_cookie()
    if person is None:
        _sign_in_form(engine)
        return

    study, n_studies = _pick_study(engine, person)
    ctx = ViewContext(
        engine=engine,
        annotator_id=person.id,
        username=person.username,
        role=person.role,
        study_id=study.id if study else None,
    )
    with st.sidebar:
        st.markdown(f"**{_ui.md_line(person.display_name or person.username)}** · {person.role}")
        if study is not None:
            if n_studies == 1:
                st.caption(f"Study: {_ui.md_line(study.name)}")
            with _ui.session(engine) as s:
                mine = progress(s, study.id, person.id)
            if mine.assigned:
                _ui.progress_bar(mine, where=st.sidebar)
        st.button("Sign out", key="sign_out", on_click=sign_out)

    views = views_for(person.role)
    slug = default_slug if default_slug in {v.slug for v in views} else landing_slug(person.role, views)
    sections: dict[str, list] = {}
    for v in views:
        section = "Study lead" if v.roles == ROLES_LEAD else "Labelling"
        sections.setdefault(section, []).append(
            # No icons: the current page's icon becomes the favicon, which Streamlit fetches from the internet.
            st.Page(_page(v, ctx), title=v.title, url_path=v.slug, default=v.slug == slug)
        )
    if not sections:
        st.info("No pages are available to this account.")
        return
    # Every page in view: a collapsed menu hides a lead's later pages behind "View more".
    st.navigation(sections, expanded=True).run()
