"""Shared fixtures: the location of ../shared/data (skipped with a clear message when absent), a
stereo dialogue."""

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


@pytest.fixture(scope="module")
def stereo(tmp_path_factory) -> Path:
    """A 12 s two-voice dialogue (``tests.audio.dialogue``) as a stereo FLAC."""
    import numpy as np
    import soundfile as sf

    from tests.audio import dialogue

    a, b, _ = dialogue()
    p = tmp_path_factory.mktemp("in") / "dialogue.flac"
    sf.write(str(p), np.stack([a, b], 1), 16000)
    return p
