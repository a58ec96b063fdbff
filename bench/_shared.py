"""Where the evaluation data lives for the bench scripts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    env = os.environ.get("PROSYNC_SHARED_DATA")
    p = Path(env) if env else ROOT.parent / "shared" / "data"
    if not p.is_dir():
        print(f"skipped: evaluation data not found at {p} (set PROSYNC_SHARED_DATA)")
        sys.exit(0)
    return p
