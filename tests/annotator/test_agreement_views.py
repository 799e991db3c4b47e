"""The lead's agreement and adjudication pages under Streamlit's AppTest, on the simulated study."""

from __future__ import annotations

import pytest
from sqlmodel import select

from annotator.registry import views_for
from annotator.views.adjudication import side_by_side, step_rows
from annotator.views.agreement import pairwise_heatmap, variable_choices
from db.engine import session_scope
from db.models import FinalLabel
from pipeline.agreement import compute_agreement, disagreements, ratings_from_db, settle_final_labels
from tests.annotator.conftest import sign_in
from tests.pipeline.agreement._study import PASSWORD, build_simulated_study


@pytest.fixture
def sim(sqlite_engine):
    with session_scope(sqlite_engine) as s:
        return build_simulated_study(s)


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += [str(x.value) for x in at.success] + [str(x.value) for x in at.info]
    return "\n".join(str(p) for p in parts)


def test_pages_are_for_leads_only():
    assert {"agreement", "adjudication"} <= {v.slug for v in views_for("lead")}
    assert not {"agreement", "adjudication"} & {v.slug for v in views_for("annotator")}


def test_agreement_page(sqlite_engine, sim, make_app):
    at = sign_in(make_app(sqlite_engine, "agreement"), "studylead", PASSWORD)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    row = table.set_index("variable").loc["reasoning_drift"]
    assert row["Krippendorff's α"].startswith("0.9") and " to " in row["Krippendorff's α"]  # one interval format
    assert table.set_index("variable").loc["other", "Krippendorff's α"] == "undefined"
    assert int(row["items"]) == len(sim.response_ids)
    assert len(at.get("plotly_chart")) == 1
    # Confusion of two annotators on one error mode: present/absent counts on the items both labelled.
    at.selectbox(key="agr_conf_label").select("red_flag_failure").run()
    conf = at.dataframe[1].value
    assert list(conf.columns) == ["present", "absent"] and int(conf.values.sum()) > 0
    # The heatmap follows the chosen variable.
    at.selectbox(key="agr_heat_label").select("priority_inversion").run()
    assert not at.exception
    assert "Items labelled by both" in _texts(at)


def test_heatmap_and_choices_are_plain_functions(sqlite_engine, sim):
    with session_scope(sqlite_engine) as s:
        report = compute_agreement(ratings_from_db(s, sim.study_id), n_boot=0)
    assert variable_choices(report)[0] == "reasoning_drift" and "other" in variable_choices(report)
    fig = pairwise_heatmap(report, "reasoning_drift")
    z = fig.data[0].z
    assert len(z) == 3 and all(0.8 < z[i][j] <= 1 for i in range(3) for j in range(3) if i != j)


def test_adjudication_page_settles_shows_aliases_and_sets_final_labels(sqlite_engine, sim, make_app):
    at = sign_in(make_app(sqlite_engine, "adjudication"), "studylead", PASSWORD)
    assert not at.exception, at.exception
    at.button(key="adj_settle").click().run()
    assert "waiting for adjudication" in _texts(at)
    side = at.dataframe[0].value
    assert list(side.columns)[:2] == ["A", "B"]
    shown = side.to_string() + _texts(at)
    assert "clinician" not in shown  # annotators appear only as A, B, C
    assert "Step " in _texts(at)  # the trace's cited steps are shown
    rid = at.selectbox(key="adj_pick").value
    # Form widgets: set their values, then submit the form in one run.
    at.multiselect(key=f"adj_modes_{rid}").set_value(["reasoning_drift"])
    at.text_area(key=f"adj_rationale_{rid}").input("drift is clear from the cited steps")
    form_submit = [b for b in at.button if b.label == "Set final labels"][0]
    form_submit.click().run()
    assert not at.exception, at.exception
    assert f"Response {rid}: Reasoning drift" in _texts(at)
    # the counters are read again and the queue moves on to the next response
    assert {m.label: str(m.value) for m in at.metric}["Adjudicated"] == "1"
    assert at.selectbox(key="adj_pick").value != rid
    with session_scope(sqlite_engine) as s:
        final = s.exec(select(FinalLabel).where(FinalLabel.response_id == rid)).one()
        assert final.method == "adjudicated" and final.error_modes == ["reasoning_drift"]
        assert final.adjudicator_id == sim.lead_id and "drift is clear" in final.rationale


def test_adjudication_page_bad_labels_show_message_and_write_nothing(sqlite_engine, sim, make_app):
    with session_scope(sqlite_engine) as s:
        settle_final_labels(s, sim.study_id)
    at = sign_in(make_app(sqlite_engine, "adjudication"), "studylead", PASSWORD)
    rid = at.selectbox(key="adj_pick").value
    at.multiselect(key=f"adj_modes_{rid}").set_value(["no_error", "other"])
    [b for b in at.button if b.label == "Set final labels"][0].click().run()
    assert "excludes every other mode" in _texts(at)
    with session_scope(sqlite_engine) as s:
        assert s.exec(select(FinalLabel).where(FinalLabel.response_id == rid)).first() is None


def test_side_by_side_and_steps_are_plain_functions(sqlite_engine, sim):
    with session_scope(sqlite_engine) as s:
        settle_final_labels(s, sim.study_id)
        d = disagreements(s, sim.study_id)[0]
    table = side_by_side(d, {"reasoning_drift": "Reasoning drift"})
    assert list(table.columns) == [r.alias for r in d.raters]
    cited = step_rows(d, only_cited=True)
    assert cited and all(refs for _, refs, _ in cited)
    assert len(step_rows(d, only_cited=False)) >= len(cited)
