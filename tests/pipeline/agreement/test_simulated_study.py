"""The simulated study (tests/pipeline/agreement/_study.py): planted agreement comes out in order, and
every response reaches final labels, by unanimity, majority or a lead's adjudication."""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.engine import session_scope
from db.models import Annotation, FinalLabel
from pipeline.agreement import (
    METHODS,
    adjudicate,
    agreement_report,
    disagreements,
    final_labels_frame,
    get_disagreement,
    settle_final_labels,
)
from pipeline.errors import DxTraceError, InputError
from tests.pipeline.agreement._study import build_simulated_study


@pytest.fixture
def sim(engine):
    with session_scope(engine) as session:
        return build_simulated_study(session)


def test_planted_agreement_ordering(engine, sim):
    with session_scope(engine) as session:
        rep = agreement_report(session, sim.study_id, n_boot=500, seed=1)
    drift, red, prio = rep["reasoning_drift"], rep["red_flag_failure"], rep["priority_inversion"]
    a = [x["alpha"].value for x in (drift, red, prio)]
    assert a[0] > a[1] > a[2], a
    assert a[0] > 0.85  # near-perfect
    assert 0.3 < a[1] < 0.8  # moderate
    # Random labelling: no agreement beyond chance, the interval covers 0.
    assert prio["alpha"].ci_low < 0 < prio["alpha"].ci_high
    # The near-perfect mode's interval lies above the random one's.
    assert drift["alpha"].ci_low > prio["alpha"].ci_high
    # The same ordering in Gwet's AC1 and in every pair's Cohen's kappa.
    assert drift["gwet_ac1"].value > red["gwet_ac1"].value > prio["gwet_ac1"].value
    for p_drift, p_prio in zip(drift.pairs, prio.pairs, strict=True):
        assert p_drift.kappa.value > p_prio.kappa.value
    # Nobody used "other": undefined with its reason, not 1.0.
    assert rep["other"]["alpha"].value is None and "no variation" in rep["other"]["alpha"].reason
    # Half the responses have three ratings, the rest two: Fleiss' kappa (Gwet's generalisation) is
    # defined and, like alpha, near-perfect; its analytic interval sits beside the bootstrap one.
    fk = drift["fleiss_kappa"]
    assert fk.reason is None and fk.value > 0.85
    assert fk.se is not None and fk.ase_low < fk.value <= fk.ase_high
    # Counts beside the figures: every response is rated, the case is the resampling unit.
    assert drift.n_items == len(sim.response_ids)
    assert rep.n_cases == len(sim.response_ids)  # one response per case in this study
    assert drift["alpha"].n_ratings == drift.n_ratings
    assert rep.label_set["alpha_masi"].value is not None
    assert rep.first_error_step["alpha_interval"].value > 0.5
    assert len(rep.raters) == 3
    assert "reasoning_drift" in rep.to_markdown()


def test_settle_and_adjudicate_until_every_response_has_final_labels(engine, sim):
    with session_scope(engine) as session:
        summary = settle_final_labels(session, sim.study_id)
    assert summary.responses == len(sim.response_ids)
    assert summary.unanimous > 0 and summary.majority > 0 and summary.disagreements > 0
    assert summary.unanimous + summary.majority + summary.disagreements == len(sim.response_ids)

    with session_scope(engine) as session:
        queue = disagreements(session, sim.study_id)
        assert len(queue) == summary.disagreements
        first = queue[0]
        assert [r.alias for r in first.raters] == ["A", "B", "C"][: len(first.raters)]
        assert first.trace and first.decision.status == "disagreement"
        # Annotators are shown by alias; their evidence steps are mapped onto the trace's steps.
        cited = first.evidence_by_step()
        assert all(alias in {"A", "B", "C"} for refs in cited.values() for alias, _ in refs)
        for d in queue:
            truth = sorted(sim.truth[d.response_id]) or ["no_error"]
            adjudicate(
                session,
                study_id=sim.study_id,
                response_id=d.response_id,
                adjudicator_id=sim.lead_id,
                error_modes=truth,
                first_error_step=sim.truth_step[d.response_id],
                rationale="read the trace",
            )

    with session_scope(engine) as session:
        assert disagreements(session, sim.study_id) == []
        finals = session.exec(select(FinalLabel).where(FinalLabel.study_id == sim.study_id)).all()
        assert sorted(f.response_id for f in finals) == sorted(sim.response_ids)
        assert {f.method for f in finals} == set(METHODS)
        for f in finals:
            assert f.error_modes and ("no_error" not in f.error_modes or f.error_modes == ["no_error"])
            assert (f.adjudicator_id == sim.lead_id) == (f.method == "adjudicated")
        frame = final_labels_frame(session, sim.study_id)
        assert len(frame) == len(sim.response_ids)
        assert set(frame.loc[frame.method == "adjudicated", "adjudicator"]) == {"studylead"}
        # Settling again keeps every adjudication and changes nothing.
        again = settle_final_labels(session, sim.study_id)
        assert again.adjudicated == summary.disagreements and again.written == 0
        # Review mode lists majority and adjudicated responses too.
        assert len(disagreements(session, sim.study_id, include_settled=True)) >= summary.majority


def test_changed_annotation_reopens_an_automatic_final_label(engine, sim):
    with session_scope(engine) as session:
        settle_final_labels(session, sim.study_id)
        unanimous = session.exec(
            select(FinalLabel).where(FinalLabel.study_id == sim.study_id, FinalLabel.method == "unanimous")
        ).first()
        anns = session.exec(select(Annotation).where(Annotation.response_id == unanimous.response_id)).all()
        if len(anns) != 2:
            pytest.skip("needs a two-rater response")
        anns[0].error_modes = ["other"] if anns[0].error_modes != ["other"] else ["no_error"]
        session.add(anns[0])
        session.flush()
        summary = settle_final_labels(session, sim.study_id)
        assert summary.reopened == 1
        assert session.get(FinalLabel, unanimous.id) is None
        assert get_disagreement(session, sim.study_id, unanimous.response_id).decision.status == "disagreement"


def test_adjudication_rejects_bad_input(engine, sim):
    with session_scope(engine) as session:
        rid = sim.response_ids[0]
        kw = dict(study_id=sim.study_id, response_id=rid)
        with pytest.raises(DxTraceError, match="not a lead"):
            adjudicate(session, adjudicator_id=sim.annotator_ids[0], error_modes=["other"], **kw)
        with pytest.raises(InputError, match="error_modes: not in the study's codebook: made_up"):
            adjudicate(session, adjudicator_id=sim.lead_id, error_modes=["made_up"], **kw)
        with pytest.raises(InputError, match="'no_error' excludes every other mode"):
            adjudicate(session, adjudicator_id=sim.lead_id, error_modes=["no_error", "other"], **kw)
        with pytest.raises(InputError, match="error_modes: choose at least one"):
            adjudicate(session, adjudicator_id=sim.lead_id, error_modes=[], **kw)
        with pytest.raises(InputError, match="first_error_step: step 99999 is not a step of this trace"):
            adjudicate(session, adjudicator_id=sim.lead_id, error_modes=["other"], first_error_step=99999, **kw)
        with pytest.raises(DxTraceError, match="not part of study"):
            adjudicate(
                session, adjudicator_id=sim.lead_id, error_modes=["other"], study_id=sim.study_id, response_id=10**6
            )
        assert session.exec(select(FinalLabel)).all() == []
