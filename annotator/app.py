"""The DxTrace annotation app: `streamlit run annotator/app.py` (the database: $DXTRACE_DB or ./dxtrace.db).

Accounts are made with `python -m pipeline users add`; every page needs a sign-in.
Pages are the views registered with @view in annotator/views/.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run annotator/app.py` puts annotator/ on the path, not the repository root.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from annotator._shell import main  # noqa: E402

main()
