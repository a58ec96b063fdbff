"""Per-speaker baselines that warm up online, and profiles that carry them across sessions.

A baseline holds what "normal" is for one speaker: F0 median and range in semitones, speech level
and noise floor in dB, typical speech rate, and typical floor-transfer offset (how long this person
waits before taking the floor). It warms up from the first seconds of speech and says so
(:attr:`SpeakerBaseline.warming_up`) until it has seen enough; a saved profile makes a returning
speaker start calibrated.

Memory is bounded: quantiles come from fixed histograms.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.errors import ProsyncError

PROFILE_VERSION = 1

# histogram grids: F0 in 0.1 semitone bins re 1 Hz (0..120 st = 1..1024 Hz), levels in 0.5 dB
_ST_BINS = 1200
_DB_LO, _DB_BINS = -120.0, 260
_RATE_BINS = 200       # 0.05 syl/s bins, 0..10
_FTO_LO, _FTO_BINS = -3.0, 120  # 50 ms bins, -3..+3 s

#: Voiced frames needed before the F0 baseline is settled (3 s of voicing).
MIN_VOICED = 300
#: Speech frames needed before the level and rate baselines are settled (5 s of speech).
MIN_SPEECH = 500
#: Floor transfers needed before the gap-timing baseline is settled.
MIN_FTO = 3


def _quantile(hist: np.ndarray, q: float, lo: float, width: float) -> float:
    tot = hist.sum()
    if tot == 0:
        return float("nan")
    i = int(np.searchsorted(np.cumsum(hist), q * tot))
    return lo + (i + 0.5) * width


def st_re_1hz(f0_hz):
    """Semitones re 1 Hz."""
    return 12.0 * np.log2(f0_hz)


@dataclass
class BaselineSnapshot:
    """The current baseline values of one speaker (NaN where nothing is known yet)."""

    f0_median_hz: float
    f0_median_st: float          # re 1 Hz
    f0_range_st: float           # 5th to 95th percentile
    speech_level_db: float       # median energy of speech frames
    noise_floor_db: float        # 10th percentile of non-speech frames
    rate_sps: float              # median rolling rate during speech
    fto_median_s: float          # median floor-transfer offset when this speaker takes the floor
    warming_up: bool


class SpeakerBaseline:
    """Online baseline of one speaker, fed with frames and the FTOs of floors they took."""

    def __init__(self):
        self.f0 = np.zeros(_ST_BINS, np.int64)
        self.level = np.zeros(_DB_BINS, np.int64)
        self.noise = np.zeros(_DB_BINS, np.int64)
        self.rate = np.zeros(_RATE_BINS, np.int64)
        self.fto = np.zeros(_FTO_BINS, np.int64)
        self.n_voiced = 0
        self.n_speech = 0
        self.n_fto = 0
        self._snap: BaselineSnapshot | None = None

    def add_frames(self, frames: np.ndarray) -> None:
        """Add a record array of frames (fields ``f0_hz``, ``voiced``, ``speech``, ``energy_db``,
        ``rate_sps``)."""
        v = frames["voiced"]
        f0 = frames["f0_hz"][v]
        f0 = f0[np.isfinite(f0) & (f0 > 0)]
        if f0.size:
            idx = np.clip((st_re_1hz(f0) * 10).astype(np.int64), 0, _ST_BINS - 1)
            self.f0 += np.bincount(idx, minlength=_ST_BINS)
            self.n_voiced += f0.size
        sp = frames["speech"]
        e = frames["energy_db"]
        eidx = np.clip(((e - _DB_LO) * 2).astype(np.int64), 0, _DB_BINS - 1)
        if sp.any():
            self.level += np.bincount(eidx[sp], minlength=_DB_BINS)
            r = np.clip((frames["rate_sps"][sp] * 20).astype(np.int64), 0, _RATE_BINS - 1)
            self.rate += np.bincount(r, minlength=_RATE_BINS)
            self.n_speech += int(sp.sum())
        if (~sp).any():
            self.noise += np.bincount(eidx[~sp], minlength=_DB_BINS)
        self._snap = None

    def add_fto(self, fto_s: float) -> None:
        """A floor this speaker took, ``fto_s`` after (or before, if negative) the other's end."""
        if math.isfinite(fto_s):
            i = int(np.clip((fto_s - _FTO_LO) * 20, 0, _FTO_BINS - 1))
            self.fto[i] += 1
            self.n_fto += 1
            self._snap = None

    @property
    def warming_up(self) -> bool:
        return self.n_voiced < MIN_VOICED or self.n_speech < MIN_SPEECH

    def snapshot(self) -> BaselineSnapshot:
        if self._snap is None:
            med_st = _quantile(self.f0, 0.5, 0.0, 0.1)
            self._snap = BaselineSnapshot(
                f0_median_hz=2 ** (med_st / 12) if math.isfinite(med_st) else float("nan"),
                f0_median_st=med_st,
                f0_range_st=_quantile(self.f0, 0.95, 0.0, 0.1) - _quantile(self.f0, 0.05, 0.0, 0.1),
                speech_level_db=_quantile(self.level, 0.5, _DB_LO, 0.5),
                noise_floor_db=_quantile(self.noise, 0.1, _DB_LO, 0.5),
                rate_sps=_quantile(self.rate, 0.5, 0.0, 0.05),
                fto_median_s=_quantile(self.fto, 0.5, _FTO_LO, 0.05) if self.n_fto else float("nan"),
                warming_up=self.warming_up,
            )
        return self._snap

    # ---- profiles ----
    def to_dict(self) -> dict:
        return {
            "f0": self.f0.tolist(), "level": self.level.tolist(), "noise": self.noise.tolist(),
            "rate": self.rate.tolist(), "fto": self.fto.tolist(),
            "n_voiced": self.n_voiced, "n_speech": self.n_speech, "n_fto": self.n_fto,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SpeakerBaseline:
        b = cls()
        for name, size in (("f0", _ST_BINS), ("level", _DB_BINS), ("noise", _DB_BINS),
                           ("rate", _RATE_BINS), ("fto", _FTO_BINS)):
            arr = np.asarray(d[name], dtype=np.int64)
            if arr.shape != (size,) or (arr < 0).any():
                raise ValueError(f"histogram {name!r} has the wrong shape or negative counts")
            setattr(b, name, arr)
        b.n_voiced, b.n_speech, b.n_fto = int(d["n_voiced"]), int(d["n_speech"]), int(d["n_fto"])
        return b


def save_profile(path: str | Path, baselines: dict[str, SpeakerBaseline]) -> Path:
    """Write the speakers' baselines as a versioned JSON profile (atomically)."""
    path = Path(path)
    doc = {"prosync_profile": PROFILE_VERSION,
           "speakers": {name: b.to_dict() for name, b in baselines.items()}}
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
    return path


def load_profile(path: str | Path) -> dict[str, SpeakerBaseline]:
    """Read a profile written by :func:`save_profile`; clear errors for anything else."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProsyncError(f"{path}: profile not found: check the path, or omit --profile "
                           "to start uncalibrated") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProsyncError(f"{path}: not a prosync profile ({exc}): give a file written by "
                           "--profile, or delete it to start afresh") from None
    version = doc.get("prosync_profile") if isinstance(doc, dict) else None
    if version != PROFILE_VERSION:
        raise ProsyncError(f"{path}: profile version {version} is not {PROFILE_VERSION}: "
                           "delete it to start afresh")
    try:
        return {str(k): SpeakerBaseline.from_dict(v) for k, v in doc["speakers"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ProsyncError(f"{path}: damaged profile ({exc}): delete it to start afresh") from None
