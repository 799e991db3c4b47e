"""The lead's cluster map and the "similar traces" panel, on real DeepSeek-R1 traces embedded with the real model."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import text
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from annotator.panels.similar import similar_panel
from annotator.registry import ViewContext
from annotator.views.clusters import cluster_table
from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.models import Annotation, Assignment, Clustering, FinalLabel, Study
from pipeline.annotation import assign, create_annotator, ensure_codebook
from pipeline.cluster import cluster_map_figure, cluster_overview, cluster_study, embed_responses
from tests.annotator.conftest import sign_in, url_of
from tests.factories import add_medrbench_r1, make_study
from tests.pipeline.annotation.conftest import PASSWORD

pytestmark = pytest.mark.model
N = 20


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A study of N real traces, embedded once, with a lead, two annotators and assignments."""
    path = tmp_path_factory.mktemp("clusters-view") / "study.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(engine) as s:
        study = make_study(s, "mapped")
        study.codebook_version_id = ensure_codebook(s).id
        ids = [r.id for r in add_medrbench_r1(s, study, limit=N)]
        people = {
            name: create_annotator(s, name, PASSWORD, role).id
            for name, role in (("lead", "lead"), ("ann1", "annotator"), ("ann2", "annotator"))
        }
        assign(s, study.id, response_ids=ids, annotator_ids=[people["ann1"], people["ann2"]], per_item=1)
        embed_responses(s, study.id, progress=False)
        study_id = study.id
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path, study_id, ids, people


@pytest.fixture
def world(template, tmp_path):
    path, study_id, ids, people = template
    copy = tmp_path / "mapped.db"
    shutil.copy(path, copy)
    engine = make_engine(f"sqlite:///{copy}")
    yield engine, study_id, ids, people
    engine.dispose()


@pytest.fixture
def app(monkeypatch):
    def make(engine, slug):
        from annotator._shell import main as _  # noqa: F401  (import errors show here, not inside AppTest)

        monkeypatch.setenv("DXTRACE_DB", url_of(engine))

        def script(slug):
            from annotator._shell import main

            main(default_slug=slug)

        return AppTest.from_function(script, kwargs={"slug": slug}, default_timeout=120)

    return make


def _label_some(engine, study_id, ids, people) -> None:
    with session_scope(engine) as s:
        cb = s.get(Study, study_id).codebook_version_id
        for rid in ids[:6]:
            s.add(FinalLabel(study_id=study_id, response_id=rid, error_modes=["reasoning_drift"], method="unanimous"))
        s.add(
            Annotation(
                study_id=study_id,
                response_id=ids[6],
                annotator_id=people["ann2"],
                codebook_version_id=cb,
                error_modes=["red_flag_failure"],
            )
        )


def test_map_figure_and_cluster_table_are_plain_functions(world):
    engine, study_id, ids, _ = world
    with session_scope(engine) as s:
        c = cluster_study(s, study_id, n_clusters=3)
        ov = cluster_overview(s, c.id)
    table = cluster_table(ov)
    assert list(table["cluster"]) and table["traces"].sum() == N
    assert list(table["traces"]) == sorted(table["traces"], reverse=True)
    assert all(table["keywords"].str.len() > 0)
    fig = cluster_map_figure(ov.points, "cluster")
    assert sorted(t.name for t in fig.data) == ["cluster 0", "cluster 1", "cluster 2"]
    assert sum(len(t.x) for t in fig.data) == N
    by_grade = cluster_map_figure(ov.points, "correctness")
    assert {t.name for t in by_grade.data} <= {"correct", "incorrect", "ungraded"}
    assert {t.name for t in cluster_map_figure(ov.points, "human label").data} == {"unlabeled"}
    assert [t.name for t in cluster_map_figure(ov.points, "model").data] == ["DeepSeek-R1"]
    # Model output in the hover box is escaped, and blinded studies can hide model names.
    points = ov.points.copy()
    points.loc[0, "snippet"] = "<img src=x onerror=alert(1)>"
    hovers = [str(v) for t in cluster_map_figure(points, "cluster").data for row in t.customdata for v in row]
    assert hovers and not any("<img" in h for h in hovers)
    assert any("&lt;img" in h for h in hovers)
    hidden = cluster_map_figure(points, "cluster", hide_models=True)
    assert "model" not in hidden.data[0].hovertemplate
    with pytest.raises(ValueError, match="hidden"):
        cluster_map_figure(points, "model", hide_models=True)
    with pytest.raises(ValueError, match="colour_by"):
        cluster_map_figure(points, "specialty")


def test_lead_sees_the_map_and_orders_the_queues(world, app):
    engine, study_id, ids, people = world
    with session_scope(engine) as s:
        cluster_study(s, study_id, n_clusters=3)
    _label_some(engine, study_id, ids, people)
    at = sign_in(app(engine, "clusters"), "lead")
    assert at.title[0].value == "Trace clusters"
    assert [m.value for m in at.metric][:1] == ["3"]
    assert len(at.get("plotly_chart")) == 1
    page = " ".join(c.value for c in at.caption)
    assert "Against 7 human labels: adjusted Rand" in page
    for colour in ("model", "correctness", "human label", "cluster"):
        at.radio(key="clusters_colour_by").set_value(colour).run()
        assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 1
    # A cluster page: keywords and typical traces, whose text is shown as plain text.
    options = at.selectbox(key="clusters_cluster").options
    assert len(options) == 3
    at.selectbox(key="clusters_cluster").select_index(1).run()
    assert any(md.value.startswith("**Keywords:**") for md in at.markdown)
    assert len(at.expander) >= 3 and at.text and at.text[0].value.startswith("Okay")
    with session_scope(engine) as s:
        before = [
            a.response_id for a in s.exec(select(Assignment).order_by(Assignment.annotator_id, Assignment.position))
        ]
    at.button(key="clusters_order").click().run()
    assert not at.exception, at.exception
    assert "Ordered the queues of 2 annotator(s): 20 pending traces." in [x.value for x in at.success]
    with session_scope(engine) as s:
        after = [
            a.response_id for a in s.exec(select(Assignment).order_by(Assignment.annotator_id, Assignment.position))
        ]
    assert sorted(after) == sorted(before) and after != before


def test_lead_clusters_from_the_page(world, app):
    engine, study_id, _, _ = world
    at = sign_in(app(engine, "clusters"), "lead")
    assert "No clustering yet" in at.info[0].value
    assert "20 of 20 traces are embedded" in " ".join(c.value for c in at.caption)
    at.selectbox(key="clusters_method").set_value("agglomerative")
    at.number_input(key="clusters_k").set_value(4)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        made = s.exec(select(Clustering)).one()
    assert (made.method, made.n_clusters) == ("agglomerative", 4)
    assert at.title[0].value == "Trace clusters" and len(at.get("plotly_chart")) == 1


def test_annotators_do_not_get_the_lead_page(world, app):
    engine, *_ = world
    at = sign_in(app(engine, "clusters"), "ann1")
    assert all(t.value != "Trace clusters" for t in at.title)


def _ctx(engine, people, who, study_id):
    return ViewContext(engine, people[who], who, "lead" if who == "lead" else "annotator", study_id)


def test_similar_panel_hides_labels_unless_suggestions_are_on(world):
    engine, study_id, ids, people = world
    _label_some(engine, study_id, ids, people)
    target = ids[10]
    with session_scope(engine) as s:
        off = similar_panel(s, _ctx(engine, people, "ann1", study_id), target)
    assert len(off.similar) == 5 and off.suggestion is None and not off.show_labels
    assert all(x.error_modes is None for x in off.similar) and not off.show_models  # blinded by default
    assert off.recorded() is None
    with session_scope(engine) as s:
        s.get(Study, study_id).show_suggestions = True
    with session_scope(engine) as s:
        on = similar_panel(s, _ctx(engine, people, "ann1", study_id), target)
        lead = similar_panel(s, _ctx(engine, people, "lead", study_id), target)
    assert on.suggestion is not None and on.suggestion.error_modes
    assert set(on.suggestion.neighbours) <= set(ids[:7])
    recorded = on.recorded()
    assert recorded["error_modes"] == list(on.suggestion.error_modes)
    assert recorded["similar_shown"] == [x.response_id for x in on.similar]
    assert lead.show_models and on.names["reasoning_drift"]


def _panel_script(url, study_id, annotator_id, username, role, response_id):
    import streamlit as st

    from annotator.panels.similar import render_similar_panel
    from annotator.registry import ViewContext
    from db.engine import get_engine

    ctx = ViewContext(get_engine(url), annotator_id, username, role, study_id)
    st.session_state["shown"] = render_similar_panel(ctx, response_id)


@pytest.mark.parametrize("suggestions", [False, True])
def test_similar_panel_in_streamlit(world, suggestions):
    engine, study_id, ids, people = world
    _label_some(engine, study_id, ids, people)
    with session_scope(engine) as s:
        s.get(Study, study_id).show_suggestions = suggestions
    at = AppTest.from_function(
        _panel_script,
        kwargs={
            "url": url_of(engine),
            "study_id": study_id,
            "annotator_id": people["ann1"],
            "username": "ann1",
            "role": "annotator",
            "response_id": ids[10],
        },
        default_timeout=120,
    ).run()
    assert not at.exception, at.exception
    assert len(at.expander) == 5
    labels = " ".join(e.label for e in at.expander)
    assert "similarity" in labels and "DeepSeek-R1" not in labels  # model names stay blinded
    if suggestions:
        assert at.info and "Suggested from the" in at.info[0].value
        assert at.session_state["shown"]["similar_shown"]
    else:
        assert not at.info and "Reasoning drift" not in labels
        assert at.session_state["shown"] is None
    assert at.text and all(t.value for t in at.text)


def test_similar_panel_without_embeddings(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        study = make_study(s, "bare")
        rid = add_medrbench_r1(s, study, limit=2)[0].id
        person = create_annotator(s, "ann1", PASSWORD, "annotator").id
        sid = study.id
    at = AppTest.from_function(
        _panel_script,
        kwargs={
            "url": url_of(engine),
            "study_id": sid,
            "annotator_id": person,
            "username": "ann1",
            "role": "annotator",
            "response_id": rid,
        },  # fmt: skip
        default_timeout=60,
    ).run()
    assert not at.exception, at.exception
    assert "not embedded" in at.caption[0].value and at.session_state["shown"] is None
    engine.dispose()


def test_embedding_on_a_server_that_is_down_is_one_clear_message(world, app):
    from pipeline._process import free_port
    from pipeline.cluster import EmbeddingConfig, set_study_embedding

    engine, study_id, _, _ = world
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"  # nothing listens there
    with session_scope(engine) as s:
        set_study_embedding(s, study_id, EmbeddingConfig(backend="openai", model="emb", base_url=base, max_retries=0))
    at = sign_in(app(engine, "clusters"), "lead")
    captions = " ".join(c.value for c in at.caption)
    assert "0 of 20 traces are embedded" in captions and "study's server" in captions and str(port) in captions
    at.button(key="clusters_embed").click().run()
    assert not at.exception, at.exception
    assert at.error and "cannot reach" in at.error[0].value and str(port) in at.error[0].value
