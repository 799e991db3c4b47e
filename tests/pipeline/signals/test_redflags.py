"""The red-flag list (versioned file, sources, bad input) and the red-flags-not-taken-up signal."""

from __future__ import annotations

import pytest

from pipeline.errors import InputError
from pipeline.signals import flags_in_vignette, get_signal, load_shipped, parse_redflags, quote_ok
from tests.pipeline.signals.conftest import make_input

VIGNETTE = (
    "A 34-year-old woman has the worst headache of her life, which began during exercise. "
    "On examination she has neck stiffness and photophobia. There is no rash."
)


def test_shipped_list_names_a_source_for_every_entry():
    flags = load_shipped()
    assert flags.version == "1" and len(flags.flags) >= 11
    for f in flags.flags:
        assert f.source.strip() and f.terms
    ids = {f.id for f in flags.flags}
    assert {"thunderclap_headache", "neck_stiffness", "fever_petechiae", "postmenopausal_bleeding"} <= ids


def test_vignette_flags_present_and_negated_ones_not():
    hits = {h.id: h for h in flags_in_vignette(VIGNETTE, load_shipped())}
    assert {"thunderclap_headache", "neck_stiffness"} <= set(hits)
    assert "fever_petechiae" not in hits
    assert all(h.quote in VIGNETTE for h in hits.values())
    negated = flags_in_vignette("He denies neck stiffness. No weight loss.", load_shipped())
    assert negated == []


def test_red_flag_taken_up_or_ignored():
    hits = [
        h for h in flags_in_vignette(VIGNETTE, load_shipped()) if h.id in ("thunderclap_headache", "neck_stiffness")
    ]
    both = "The worst headache of her life suggests subarachnoid haemorrhage.\n\nNuchal rigidity supports it."
    item = make_input(both, vignette=VIGNETTE, red_flags=hits)
    result = get_signal("red_flags_ignored").compute(item)
    assert result.fired is False
    assert set(result.details["taken_up"]) == {"thunderclap_headache", "neck_stiffness"}

    one = "The worst headache of her life suggests migraine.\n\nMigraine is common in young women."
    item = make_input(one, vignette=VIGNETTE, red_flags=hits)
    result = get_signal("red_flags_ignored").compute(item)
    assert result.fired is True
    assert result.details["ignored"] == ["neck_stiffness"]
    (e,) = result.evidence
    assert e.source == "vignette" and e.step is None and "neck stiffness" in e.quote
    assert quote_ok(e, item.trace, item.vignette, item.steps)


def test_no_red_flag_in_case_does_not_fire():
    result = get_signal("red_flags_ignored").compute(make_input("Some reasoning.", vignette="A sprained ankle."))
    assert result.fired is False


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("version = \n", None),
        ('version = "2"\n', "red_flag"),
        ('version = "2"\n[[red_flag]]\nid = "a"\nname = "A"\nterms = []\nsource = "S"\n', "red_flag[1].terms"),
        ('version = "2"\n[[red_flag]]\nid = "a"\nname = "A"\nterms = ["x"]\n', "red_flag[1].source"),
        (
            'version = "2"\n[[red_flag]]\nid = "a"\nname = "A"\nterms = ["x"]\nsource = "S"\n'
            '[[red_flag]]\nid = "a"\nname = "B"\nterms = ["y"]\nsource = "S"\n',
            "red_flag[2].id",
        ),
        ('version = "2"\n[[red_flag]]\nid = "a"\nname = "A"\nterms = ["x"]\nsource = "S"\ncolour = 1\n', "red_flag[1]"),
    ],
)
def test_bad_list_is_refused_with_file_and_field(text, field):
    with pytest.raises(InputError) as exc:
        parse_redflags(text, "v2.toml")
    problem = exc.value.problems[0]
    assert problem.file == "v2.toml"
    assert problem.field == field
