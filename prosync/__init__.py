"""prosync: real-time prosodic synchrony between two speakers."""

from prosync.engine.config import (
    SYNC_PRESETS,
    Config,
    PacingConfig,
    PitchConfig,
    RateConfig,
    SyncConfig,
    TurnConfig,
    VadConfig,
)
from prosync.engine.errors import AudioInputError, ProsyncError
from prosync.engine.pseudo import pseudo_dyads
from prosync.engine.session import Session, Update
from prosync.engine.wcc import StreamingWcc, pick_peaks, wcc, wcc_summary

__version__ = "0.1.0"

__all__ = [
    "SYNC_PRESETS", "AudioInputError", "Config", "PacingConfig", "PitchConfig", "ProsyncError",
    "RateConfig", "Session", "StreamingWcc", "SyncConfig", "TurnConfig", "Update", "VadConfig",
    "__version__", "pick_peaks", "pseudo_dyads", "wcc", "wcc_summary",
]
