"""The DxTrace annotation app: `streamlit run annotator/app.py` (the database: $DXTRACE_DB or ./dxtrace.db).

Accounts are made with `python -m pipeline users add`; every page needs a sign-in. Pages are the views
registered with @view in annotator/views/, drawn by annotator/_page.py.

`streamlit run` finds the st.App below and imports this module in the server process before it serves
anyone: that is where the app makes sure nothing leaves the machine, from whatever folder it is started
(annotator/_guard.py). The safe defaults themselves (127.0.0.1, no usage statistics) are in
annotator/.streamlit/config.toml, which Streamlit reads beside this script, after the working directory's
and the user's config files.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from annotator._guard import lifespan, seal_network  # noqa: E402

seal_network()
app = st.App("_page.py", lifespan=lifespan)
