"""Normalising diagnosis names and splitting them into the names they offer.

Pure string functions: the tiers in _match compare what these return.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# British -> American spellings that otherwise cost a fuzzy match.
_SPELLING = [
    ("haem", "hem"),
    ("anaem", "anem"),
    ("ischaem", "ischem"),
    ("leukaem", "leukem"),
    ("oedem", "edem"),
    ("oesophag", "esophag"),
    ("oestr", "estr"),
    ("diarrhoea", "diarrhea"),
    ("gonorrhoea", "gonorrhea"),
    ("tumour", "tumor"),
    ("paediatr", "pediatr"),
    ("gynaec", "gynec"),
    ("coeliac", "celiac"),
    ("foetal", "fetal"),
]
# Greek letters spelled out: "11β-hydroxylase" == "11-beta-hydroxylase", "TNF-α" == "TNF alpha".
_GREEK = {
    "\u03b1": "alpha", "\u03b2": "beta", "\u03b3": "gamma", "\u03b4": "delta", "\u03b5": "epsilon",
    "\u03ba": "kappa", "\u03bb": "lambda", "\u03bc": "mu", "\u00b5": "mu", "\u03c3": "sigma", "\u03c9": "omega",
}  # fmt: skip
_NUMBER_WORDS = {"i": "1", "v": "5", "x": "10", "one": "1", "two": "2", "three": "3", "four": "4"}
# Numbers spelled as roman numerals or ordinals: "cranial nerve III palsy" == "third cranial nerve palsy".
_ALWAYS_NUMBERS = {
    "ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9", "xi": "11", "xii": "12",
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "sixth": "6", "seventh": "7",
    "eighth": "8", "ninth": "9", "tenth": "10", "eleventh": "11", "twelfth": "12",
}  # fmt: skip
_NUMBER_CONTEXT = frozenset({"type", "stage", "grade", "class", "nerve", "cn"})
_PLURAL_KEEP = ("ss", "us", "is", "ys", "as", "os")
# Words that hedge a diagnosis without naming anything.
_HEDGES = re.compile(
    r"\b(most likely|more likely|less likely|likely|possible|possibly|probable|probably|suspected|"
    r"suspicion of|rule out|r/o|consider|considered|differential|diagnosis)\b"
)
_PAREN = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_HEAD_SPLIT = re.compile(r"\s+[-\u2013\u2014]+\s+|\s*[\u2013\u2014]\s*|:|;|\s+-{2,}\s*")
_ALT_SPLIT = re.compile(r"\s*\n\s*|\s*/\s*|\s+or\s+|\s*,\s*|\s+and\s+|\s+vs\.?\s+|\s+versus\s+")
# "X with Y", "X due to Y": the listed disease is X (items only; a gold "migraine with aura" stays whole).
_QUALIFIED = re.compile(r"\s+(?:with|without|due to|secondary to|caused by|associated with|from)\s+", re.I)
_EG = re.compile(r"^\s*(e\.?\s?g\.?|i\.?\s?e\.?|such as|including|especially|like)\s*[,:]?\s*", re.I)


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Lower case, no accents, no punctuation, American spelling, 'type I' -> 'type 1'."""
    s = unicodedata.normalize("NFKD", text)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    s = "".join(f" {_GREEK[ch]} " if ch in _GREEK else ch for ch in s)
    s = re.sub(r"['\u2019\u2018`]s\b", "", s)  # possessive: Crohn's disease == Crohn disease
    s = re.sub(r"[^\w\s]|_", " ", s)
    for uk, us in _SPELLING:
        s = s.replace(uk, us)
    tokens = s.split()
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if tok in _ALWAYS_NUMBERS:
            tok = _ALWAYS_NUMBERS[tok]
        elif i > 0 and tokens[i - 1] in _NUMBER_CONTEXT and tok in _NUMBER_WORDS:
            tok = _NUMBER_WORDS[tok]
        elif len(tok) > 4 and tok.endswith("s") and not tok.endswith(_PLURAL_KEEP):
            tok = tok[:-1]  # plural: "cluster headaches" == "cluster headache" (applied to both sides alike)
        out.append(tok)
    return " ".join(out)


def strip_hedges(text: str) -> str:
    return " ".join(_HEDGES.sub(" ", text).split())


def _depths(text: str) -> list[int]:
    depth, out = 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        out.append(depth)
        if ch in ")]":
            depth = max(0, depth - 1)
    return out


def _head(text: str) -> str:
    """The part before the first dash, colon or semicolon outside brackets: the name, not the comment."""
    depth = _depths(text)
    for m in _HEAD_SPLIT.finditer(text):
        if depth[m.start()] == 0 and m.start() > 0:
            return text[: m.start()]
    return text


def _clean(part: str) -> str:
    part = _EG.sub("", part)
    return part.strip(" .,;:*-\u2013\u2014\"'")


def name_variants(text: str, *, inner: bool = True, item: bool = False) -> list[str]:
    """The names a listed (or gold) diagnosis offers, normalised, most literal first.

    'Kidney Infection (Pyelonephritis) - most likely' offers 'kidney infection pyelonephritis most likely',
    'kidney infection', 'pyelonephritis'; 'Roseola/Sixth disease' offers 'roseola', 'sixth disease'.
    inner=False skips names inside parentheses (for gold names whose brackets hold remarks);
    item=True also offers X of "X with Y" / "X due to Y" (a listed diagnosis with its complication or cause).
    """
    seen: dict[str, None] = {}

    def add(s: str) -> None:
        n = normalise(s)
        if n:
            seen.setdefault(n, None)
        h = strip_hedges(n)
        if h:
            seen.setdefault(h, None)

    add(text)
    head = _head(text)
    outer = _PAREN.sub(" ", head)
    pieces = [head, outer]
    if item:
        pieces.append(_QUALIFIED.split(outer, maxsplit=1)[0])
    if inner:
        for m in _PAREN.finditer(head):
            content = m.group(1) if m.group(1) is not None else m.group(2)
            if content and not re.search(r"[:=~]", content):
                pieces.append(content)
    for piece in pieces:
        add(_clean(piece))
        for alt in _ALT_SPLIT.split(piece):
            alt = _clean(_PAREN.sub(" ", alt))
            if alt:
                add(alt)
    return list(seen)


def tokens(text: str) -> list[str]:
    return text.split()


def critical_tokens(text: str) -> frozenset[str]:
    """Tokens that tell similar names apart: numbers, single letters, type/stage markers, negations."""
    return frozenset(t for t in text.split() if t.isdigit() or len(t) == 1 or t in _CRITICAL_WORDS)


_CRITICAL_WORDS = frozenset(
    {"no", "not", "non", "without", "pseudo", "central", "nephrogenic", "primary", "secondary", "benign", "malignant"}
)
