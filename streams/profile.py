"""Speaker profiles on disk: the baselines of returning speakers (``--profile FILE``), written
whole (:mod:`prosync.streams.atomic`). The format and reading: :mod:`prosync.calibration.baseline`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..calibration.baseline import SpeakerBaseline, load_profile, profile_document
from .atomic import write_text


def save_profile(path: str | Path, baselines: dict[str, SpeakerBaseline]) -> Path:
    """Write the speakers' baselines as a versioned JSON profile (atomically)."""
    return write_text(path, json.dumps(profile_document(baselines)))


def update_profile(path: str | Path, baselines: dict[str, SpeakerBaseline]) -> Path:
    """Write ``baselines`` into ``path``, keeping the speakers of an existing profile that this
    session did not have."""
    p = Path(path)
    merged = load_profile(p) if p.exists() else {}
    merged.update(baselines)
    return save_profile(p, merged)
