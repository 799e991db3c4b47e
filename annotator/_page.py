"""The page script that every browser session runs (served through the st.App in annotator/app.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit puts annotator/ on the path, not the repository root.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from annotator._shell import main  # noqa: E402

main()
