"""Widgets shared by the views: the database, safe text, progress, errors and keyboard shortcuts.

Text from data (model output, cases, names, codebooks) is untrusted: it is shown only through show_text
(st.text: characters), show_markdown (restricted Markdown: no HTML, links or images), or inside a
Markdown string or widget label through md() (every markup character escaped). See pipeline/safe_text.py.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db.engine import database_url, get_engine, session_scope
from db.migrate import upgrade
from pipeline.annotation import Progress
from pipeline.errors import DxTraceError, InputError
from pipeline.safe_text import clean, markdown_html, md_escape


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    engine = get_engine(url)
    upgrade(engine)
    return engine


def engine(url: str | None = None) -> Engine:
    """The study database of $DXTRACE_DB (or ./dxtrace.db), migrated once per process and URL."""
    return _engine(database_url(url))


@contextmanager
def session(eng: Engine) -> Iterator[Session]:
    with session_scope(eng) as s:
        yield s


def md(value: object) -> str:
    """Data text for a Markdown string or a widget label (st.markdown, st.caption, titles, help, expanders)."""
    return md_escape(value)


def md_line(value: object) -> str:
    """md() on one line: for labels and titles."""
    return md_escape(value, one_line=True)


def show_text(text: str | None, *, empty: str = "(empty)") -> None:
    """Untrusted text as plain text: `<script>`, HTML and markdown are shown as the characters they are."""
    st.text(clean(text) if text and text.strip() else empty)


def show_text_hits(text: str, spans: list[tuple[int, int]]) -> None:
    """Untrusted text as plain text with the given [start, end) spans highlighted (search hits): every
    character is escaped, only the <mark> tags are ours."""
    import html as _html

    text = clean(text)
    parts, pos = [], 0
    for a, b in spans:
        if a < pos or b > len(text):
            continue  # cleaning changed the text's length: highlight only what still lines up
        parts += [_html.escape(text[pos:a]), f"<mark class='dx-hit'>{_html.escape(text[a:b])}</mark>"]
        pos = b
    parts.append(_html.escape(text[pos:]))
    st.html(f"<div class='dx-data-text' style='white-space:pre-wrap'>{''.join(parts)}</div>")


def show_markdown(text: str | None, *, empty: str = "(empty)") -> None:
    """Untrusted text with its formatting (bold, lists, headings) but no HTML, links, images or directives."""
    if not text or not text.strip():
        st.text(empty)
        return
    st.html(f'<div class="dx-data-text">{markdown_html(text)}</div>')


def show_error(exc: DxTraceError) -> None:
    """One clear message per problem, never a traceback."""
    if isinstance(exc, InputError):
        lines = [p.message if p.field is None else f"{p.field.replace('_', ' ')}: {p.message}" for p in exc.problems]
        st.error("\n\n".join(lines))
    else:
        st.error(str(exc))


def progress_bar(p: Progress, *, where=st) -> None:
    where.progress(p.fraction, text=p.label())


def keyboard_shortcuts(bindings: dict[str, str]) -> None:
    """Bind keys to elements by their widget key: {"ctrl+enter": "save", "1": "mode_reasoning_drift"};
    "key#n" picks the n-th option (from 0) of a radio group: {"8": "lbl_severity#1"}.

    A plain key (no ctrl/alt/meta) is ignored while the person types in a field, so
    typing a rationale never toggles a label; a key with ctrl or meta works everywhere.
    "/" and other keys bound to a text input focus it instead of clicking.
    "@step" in a widget key stands for the number of the trace step the person is on: the focused
    step, else the one across a line a third down the window ({"m": "mark_@step"}).
    A key bound to a container with an expander opens or closes it.
    """
    script = (
        """<script>
const doc = document;
const win = window;
win.__dxBindings = BINDINGS;
if (!win.__dxShortcuts) {
  win.__dxShortcuts = true;
  const typing = (el) => el && (el.tagName === 'TEXTAREA' || el.isContentEditable ||
      (el.tagName === 'INPUT' && !['checkbox', 'radio', 'button'].includes(el.type)) ||
      el.getAttribute('role') === 'combobox' || el.getAttribute('role') === 'listbox');
  const stepNumber = (el) => {
    const m = el && /(?:^|\\s)st-key-step_(\\d+)(?:\\s|$)/.exec(el.className);
    return m ? m[1] : null;
  };
  // The focused step, else the step across the reading line (a third down the window), else the
  // first step whose top is in the window.
  const stepInView = () => {
    const focused = doc.activeElement && doc.activeElement.closest('[class*="st-key-step_"]');
    if (focused && stepNumber(focused)) return stepNumber(focused);
    const steps = [...doc.querySelectorAll('[class*="st-key-step_"]')].filter((el) => stepNumber(el));
    const line = win.innerHeight / 3;
    const across = steps.find((el) => { const r = el.getBoundingClientRect(); return r.top <= line && r.bottom >= line; });
    if (across) return stepNumber(across);
    const top = steps.find((el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.top < win.innerHeight; });
    return top ? stepNumber(top) : null;
  };
  // The bindings of the page on screen: Streamlit runs an html element's script once, when it is first
  // drawn, and only updates its markup when another page or item reuses it, so they are read from the
  // markup at each key press.
  const bindings = () => {
    const holders = doc.querySelectorAll('[data-dx-bindings]');
    if (!holders.length) return win.__dxBindings || {};
    try { return JSON.parse(holders[holders.length - 1].getAttribute('data-dx-bindings')); } catch (err) { return {}; }
  };
  doc.addEventListener('keydown', (e) => {
    if (e.repeat) return;
    const parts = [];
    if (e.ctrlKey || e.metaKey) parts.push('ctrl');
    if (e.altKey) parts.push('alt');
    if (e.shiftKey && e.key.length > 1) parts.push('shift');
    parts.push(e.key.toLowerCase());
    const combo = parts.join('+');
    let target = bindings()[combo];
    if (!target) return;
    const plain = !(e.ctrlKey || e.metaKey || e.altKey);
    if (plain && typing(doc.activeElement)) return;
    e.preventDefault();
    if (target.includes('@step')) {
      // The step the person is on, as they pressed the key: the focused one, else the one in view.
      const n = stepInView();
      if (n === null) return;
      target = target.replace('@step', n);
    }
    const box = doc.querySelector('.st-key-' + target.split('#')[0]);
    const input = box && box.querySelector('input[type="text"], textarea');
    if (input) { input.focus(); return; }
    // Let a text field being edited hand its value to Streamlit, then wait until the app is idle (no
    // script run, no DOM change for 120 ms; at most 5 s) and find the element then: a click on an
    // element that a run is still redrawing, or a key pressed while it is briefly absent, is lost.
    if (typing(doc.activeElement)) doc.activeElement.blur();
    const app = doc.querySelector('[data-testid="stApp"]');
    let last = Date.now();
    const started = last;
    const watch = new MutationObserver(() => { last = Date.now(); });
    watch.observe(doc.body, {subtree: true, childList: true, attributes: true});
    const busy = () => ['running', 'rerunRequested'].includes(app && app.getAttribute('data-test-script-state'));
    const tryClick = () => {
      if ((!busy() && Date.now() - last >= 120) || Date.now() - started > 5000) {
        watch.disconnect();
        // "key#n": the n-th option (from 0) of a radio group, e.g. a severity.
        const [name, nth] = target.split('#');
        const live = doc.querySelector('.st-key-' + name);
        const option = nth !== undefined && live && live.querySelectorAll('input[type="radio"]')[Number(nth)];
        // A checkbox takes a click on its input (its label ignores synthetic clicks; its help icon is a button).
        const el = option || (live && (live.querySelector('input[type="checkbox"], input[type="radio"]') || live.querySelector('button, summary')));
        if (el && !el.disabled) el.click();
      } else {
        setTimeout(tryClick, 40);
      }
    };
    setTimeout(tryClick, 60);
  }, true);
}
</script>"""
    ).replace("BINDINGS", json.dumps(bindings))
    script = f'<div hidden data-dx-bindings="{html.escape(json.dumps(bindings), quote=True)}"></div>' + script
    # Our own fixed script (the bindings are widget keys from this code, never model output).
    st.html(script, unsafe_allow_javascript=True)


# Streamlit ends a button's label with an ellipsis when its column is narrow (a laptop's 1280x720); the
# label wraps onto a second line instead, so no action is half-named (tests/annotator/test_browser_fit.py).
READABLE_CSS = (
    "<style>[data-testid^='stBaseButton'] [data-testid='stMarkdownContainer']"
    "{white-space:normal;overflow:visible;text-overflow:clip}"
    "[data-testid^='stBaseButton'] [data-testid='stMarkdownContainer'] p{white-space:normal}</style>"
)


def readable_style() -> None:
    """Once per page: labels wrap rather than being cut off (a fixed style of ours, no script)."""
    st.html(READABLE_CSS)


def shortcut_legend(items: list[tuple[str, str]]) -> str:
    return " · ".join(f"{key} {what}" for key, what in items)
