"""`python -m pipeline embed` and `python -m pipeline cluster` on an embedded study of real traces."""

from __future__ import annotations

import pytest
from sqlmodel import select

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.models import Assignment, Clustering, Response
from pipeline.annotation import assign, create_annotator
from pipeline.cli import main
from tests.factories import add_medrbench_r1, make_study

pytestmark = pytest.mark.model


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_embed_then_cluster_from_the_command_line(embedded, capsys):
    engine, study_id, ids = embedded
    with session_scope(engine) as s:
        s.get(Response, ids[0]).trace += "\n\nOne more thought about the red flags."
        person = create_annotator(s, "ann", "correct horse battery")
        assign(s, study_id, response_ids=ids, annotator_ids=[person.id], per_item=1)
    db = _url(engine)
    assert main(["--db", db, "embed", "--study", "clustered", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "clustered: embedded 1 trace(s)" in out and "1 changed" in out and "29 unchanged" in out

    assert main(["--db", db, "cluster", "--k", "3", "--order-queues"]) == 0  # the only study is the default
    out = capsys.readouterr().out
    assert "kmeans on 30 traces: 3 clusters" in out and "map tsne" in out
    assert "Keywords" in out and "ordered the queues of 1 annotator(s): 30 pending items" in out
    with session_scope(engine) as s:
        clustering = s.exec(select(Clustering)).one()
        assert clustering.n_clusters == 3
        positions = [a.position for a in s.exec(select(Assignment).order_by(Assignment.position))]
        assert positions == list(range(30))

    assert main(["--db", db, "cluster", "--show"]) == 0
    assert f"clustering {clustering.id}, kmeans" in capsys.readouterr().out
    assert main(["--db", db, "cluster", "--method", "hdbscan", "--min-cluster-size", "3", "--map", "pca"]) == 0
    assert "hdbscan on 30 traces" in capsys.readouterr().out


def test_mistakes_get_one_line_and_exit_2(tmp_path, capsys):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    db = _url(engine)
    assert main(["--db", db, "embed", "--no-progress"]) == 2
    assert "error: --study: name the study (studies: none yet)" in capsys.readouterr().err
    with session_scope(engine) as s:
        add_medrbench_r1(s, make_study(s, "one"), limit=3)
        make_study(s, "two")
    assert main(["--db", db, "cluster"]) == 2
    assert "error: --study: name the study (studies: one, two)" in capsys.readouterr().err
    assert main(["--db", db, "cluster", "--study", "nope"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err
    assert main(["--db", db, "cluster", "--study", "one"]) == 2
    err = capsys.readouterr().err
    assert "0 embedded trace(s)" in err and "python -m pipeline embed" in err and "Traceback" not in err
    assert main(["--db", db, "cluster", "--study", "one", "--show"]) == 2
    assert "has no clustering yet" in capsys.readouterr().err
    for bad in (["--k", "0"], ["--k", "three"], ["--duplicate-threshold", "2"], ["--method", "spectral"]):
        with pytest.raises(SystemExit) as exit_:
            main(["--db", db, "cluster", "--study", "one", *bad])
        assert exit_.value.code == 2
    assert "--k must be at least 1, got 0" in capsys.readouterr().err
    engine.dispose()
