"""Shared fixtures: the location of ../shared/data (skipped with a clear message when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``$PROSYNC_SHARED_DATA`` or ``../shared/data`` beside the checkout, if present."""
    env = os.environ.get("PROSYNC_SHARED_DATA")
    p = Path(env) if env else ROOT.parent / "shared" / "data"
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    p = shared_data_dir()
    if p is None:
        pytest.skip("../shared/data is absent: the evaluation data sits beside the checkout in CI; "
                    "set PROSYNC_SHARED_DATA to run these tests elsewhere")
    return p
