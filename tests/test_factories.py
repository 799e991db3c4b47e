from sqlmodel import Session

from tests.factories import add_medrbench_r1, add_sandmann_outputs, make_study


def test_factories_load_the_real_shipped_responses(sqlite_engine):
    with Session(sqlite_engine) as s:
        study = make_study(s)
        r1 = add_medrbench_r1(s, study)
        answers = add_sandmann_outputs(s, study)
        s.commit()
        assert len(r1) == 400 and sum(1 for r in r1 if not r.diagnoses) == 74
        assert len(answers) == 720
        assert all(len(r.trace) > 100 for r in r1)
