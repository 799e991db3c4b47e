"""Qualifier guards: reasons why two similar names are NOT the same diagnosis, applied to every tier.

Each guard is a plug-in registered with @guard. It looks at a candidate name and the gold name it
matched (both normalised) and returns a Verdict or None:
- conflict=True: a different disease (acute vs chronic, benign vs malignant, left vs right, another
  site, another type or number, a negation); the match is dropped, not even a candidate.
- conflict=False: the answer is BROADER than the gold ("meningitis" for "bacterial meningitis"): it is
  not counted correct, but a clinician may judge it (pending).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.accuracy._normalise import critical_tokens


@dataclass(frozen=True)
class Verdict:
    guard: str
    reason: str
    conflict: bool


Guard = Callable[[str, str], Verdict | None]
GUARDS: list[tuple[str, Guard]] = []


def guard(name: str):
    def register(fn: Guard) -> Guard:
        GUARDS.append((name, fn))
        return fn

    return register


def check(candidate: str, gold: str, *, skip: frozenset[str] = frozenset()) -> Verdict | None:
    """The first guard that objects, conflicts first."""
    verdicts = [v for name, fn in GUARDS if name not in skip and (v := fn(candidate, gold))]
    verdicts.sort(key=lambda v: not v.conflict)
    return verdicts[0] if verdicts else None


# Words of one group exclude each other: a name carrying one and a name carrying another of the same
# group are different diagnoses (unless one name carries both, "acute on chronic").
OPPOSED = {
    "course": frozenset({"acute", "chronic"}),
    "behaviour": frozenset({"benign", "malignant"}),
    "laterality": frozenset({"left", "right"}),
    "level": frozenset({"upper", "lower"}),
    "side": frozenset({"anterior", "posterior"}),
    "extent": frozenset({"proximal", "distal"}),
    "origin": frozenset({"primary", "secondary"}),
    "onset": frozenset({"congenital", "acquired"}),
    "kind": frozenset({"central", "peripheral", "nephrogenic"}),
    "polarity": frozenset({"hyper", "hypo"}),
}
# Anatomical sites (organ, and its adjective mapped to the organ): names at two different sites are
# different diagnoses ("pulmonary embolism" / "cerebral embolism"). A general list, not per case.
# Ambiguous adjectives are left out: "cervical" is the cervix, the neck or the cervical spine.
SITES = {
    "lung": "lung", "pulmonary": "lung", "brain": "brain", "cerebral": "brain", "heart": "heart",
    "cardiac": "heart", "liver": "liver", "hepatic": "liver", "kidney": "kidney", "renal": "kidney",
    "stomach": "stomach", "gastric": "stomach", "colon": "colon", "colonic": "colon", "rectum": "rectum",
    "rectal": "rectum", "bladder": "bladder", "vesical": "bladder", "pancreas": "pancreas", "pancreatic": "pancreas",
    "thyroid": "thyroid", "breast": "breast", "mammary": "breast", "ovary": "ovary", "ovarian": "ovary",
    "uterus": "uterus", "uterine": "uterus", "prostate": "prostate", "prostatic": "prostate",
    "esophagus": "esophagus", "esophageal": "esophagus", "duodenum": "duodenum", "duodenal": "duodenum",
    "skin": "skin", "cutaneous": "skin", "bone": "bone", "osseous": "bone", "hip": "hip", "knee": "knee",
    "shoulder": "shoulder", "ankle": "ankle", "wrist": "wrist", "elbow": "elbow", "spine": "spine",
    "spinal": "spine", "eye": "eye", "ocular": "eye", "ear": "ear", "testis": "testis", "testicular": "testis",
    "adrenal": "adrenal", "pituitary": "pituitary", "spleen": "spleen", "splenic": "spleen",
    "gallbladder": "gallbladder", "biliary": "bile duct", "bile": "bile duct", "cervix": "cervix",
    "vaginal": "vagina", "vagina": "vagina", "nasal": "nose", "nose": "nose",
    "oral": "mouth", "mouth": "mouth", "laryngeal": "larynx", "larynx": "larynx", "intestinal": "bowel",
    "bowel": "bowel", "aortic": "aorta", "aorta": "aorta", "coronary": "coronary artery", "carotid": "carotid",
}  # fmt: skip
NEGATIONS = frozenset({"no", "not", "non", "without", "absence", "excluded", "pseudo"})
# Words that narrow or restate a diagnosis without naming a different one (see _match.MISSING_OK).
_BROADER_OK = frozenset(
    {"acute", "left", "right", "sided", "bilateral", "unilateral", "typical", "classic", "classical",
     "simple", "uncomplicated", "disease", "disorder", "syndrome", "condition", "mellitus", "of", "the", "a",
     "an", "advanced", "stage", "female", "male", "with", "and"}
)  # fmt: skip


@guard("opposed")
def _opposed(candidate: str, gold: str) -> Verdict | None:
    tc, tg = set(candidate.split()), set(gold.split())
    for group, members in OPPOSED.items():
        a, b = tc & members, tg & members
        if a and b and not (a & b):
            return Verdict("opposed", f"{group}: {'/'.join(sorted(a))} vs {'/'.join(sorted(b))}", True)
    return None


@guard("site")
def _site(candidate: str, gold: str) -> Verdict | None:
    a = {SITES[t] for t in candidate.split() if t in SITES}
    b = {SITES[t] for t in gold.split() if t in SITES}
    if a and b and not (a & b):
        return Verdict("site", f"site: {'/'.join(sorted(a))} vs {'/'.join(sorted(b))}", True)
    return None


@guard("number")
def _number(candidate: str, gold: str) -> Verdict | None:
    # "type 1" / "type 2", "hepatitis A" / "hepatitis B": both name a number or letter, and not the same.
    # "a" is left out: the article and the letter cannot be told apart.
    a = {t for t in critical_tokens(candidate) if (t.isdigit() or len(t) == 1) and t != "a"}
    b = {t for t in critical_tokens(gold) if (t.isdigit() or len(t) == 1) and t != "a"}
    if a and b and a != b:
        return Verdict("number", f"type/number: {' '.join(sorted(a))} vs {' '.join(sorted(b))}", True)
    return None


@guard("negation")
def _negation(candidate: str, gold: str) -> Verdict | None:
    a, b = set(candidate.split()) & NEGATIONS, set(gold.split()) & NEGATIONS
    if a != b:
        return Verdict("negation", f"negation: {' '.join(sorted(a ^ b))}", True)
    return None


@guard("broader")
def _broader(candidate: str, gold: str) -> Verdict | None:
    tc, tg = set(candidate.split()), set(gold.split())
    missing = tg - tc
    if tc and missing and tc < tg and not missing <= _BROADER_OK:
        return Verdict("broader", f"broader: leaves out {' '.join(sorted(missing))}", False)
    return None
