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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.errors import ProsyncError
from ..native import baseline as _kb

PROFILE_VERSION = 1

# histogram grids (native/baseline.py): F0 in 0.1 semitone bins re 1 Hz (0..120 st = 1..1024 Hz),
# levels in 0.5 dB bins from -120 dB, rate in 0.05 syl/s bins (0..10), FTO in 50 ms bins (-3..+3 s)
_ST_BINS = _kb.ST_BINS
_DB_LO, _DB_BINS = _kb.DB_LO, _kb.DB_BINS
_RATE_BINS = _kb.RATE_BINS
_FTO_LO, _FTO_BINS = -3.0, 120
_HISTS = (("f0", _kb.OFF_F0, _ST_BINS), ("level", _kb.OFF_LEVEL, _DB_BINS),
          ("noise", _kb.OFF_NOISE, _DB_BINS), ("rate", _kb.OFF_RATE, _RATE_BINS))

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
    rate_sps: float              # median running rate during speech
    fto_median_s: float          # median floor-transfer offset when this speaker takes the floor
    warming_up: bool


class SpeakerBaseline:
    """Online baseline of one speaker, fed with frames and the FTOs of floors they took.

    The F0, level, noise and rate histograms live side by side in one array (views ``f0``,
    ``level``, ``noise``, ``rate``); their quantiles are tracked incrementally by the kernels in
    ``native/baseline.py``, so a snapshot after every 100 ms bin is O(1).
    """

    def __init__(self):
        self._h = np.zeros(_kb.H_TOTAL, np.int64)
        self._q = np.full((2, _kb.NQ), -1, np.int64)
        self._q[1] = 0
        self._cnt = np.zeros(2 + _kb.NQ, np.int64)
        self.fto = np.zeros(_FTO_BINS, np.int64)
        self.n_fto = 0
        self._fto_med = float("nan")
        self._snap: BaselineSnapshot | None = None
        self._one = np.empty((1, 6), np.float64)

    # histogram views (read-only use; profiles copy them)
    f0 = property(lambda self: self._h[_kb.OFF_F0:_kb.OFF_F0 + _ST_BINS])
    level = property(lambda self: self._h[_kb.OFF_LEVEL:_kb.OFF_LEVEL + _DB_BINS])
    noise = property(lambda self: self._h[_kb.OFF_NOISE:_kb.OFF_NOISE + _DB_BINS])
    rate = property(lambda self: self._h[_kb.OFF_RATE:_kb.OFF_RATE + _RATE_BINS])

    @property
    def n_voiced(self) -> int:
        return int(self._cnt[0])

    @property
    def n_speech(self) -> int:
        return int(self._cnt[1])

    def add_bins(self, frames: np.ndarray, per_bin: int, out: np.ndarray) -> None:
        """Add ``out.shape[0]`` bins of ``per_bin`` frames each (record array with fields
        ``f0_hz``, ``voiced``, ``speech``, ``energy_db``, ``rate_sps``), bin by bin; ``out[b]``
        gets the baseline after bin ``b``: F0 median (st re 1 Hz), speech level (dB), F0 range
        (st), rate (syl/s), voiced and speech frames seen."""
        if out.shape[0]:
            _kb.add_bins(frames["f0_hz"], frames["voiced"], frames["speech"], frames["energy_db"],
                         frames["rate_sps"], int(per_bin), self._h, self._q, self._cnt, out)
            self._snap = None

    def add_frames(self, frames: np.ndarray) -> None:
        """Add a record array of frames (fields ``f0_hz``, ``voiced``, ``speech``, ``energy_db``,
        ``rate_sps``). Voiced frames with a finite F0 > 0 count for F0; speech frames for the
        level and the rate, the others for the noise floor (non-finite values are skipped)."""
        n = len(frames)
        if n:
            self.add_bins(frames, n, self._one)

    def add_fto(self, fto_s: float) -> None:
        """A floor this speaker took, ``fto_s`` after (or before, if negative) the other's end."""
        if math.isfinite(fto_s):
            i = int(np.clip((fto_s - _FTO_LO) * 20, 0, _FTO_BINS - 1))
            self.fto[i] += 1
            self.n_fto += 1
            self._fto_med = _quantile(self.fto, 0.5, _FTO_LO, 0.05)
            self._snap = None

    @property
    def fto_median_s(self) -> float:
        """Median floor-transfer offset when this speaker takes the floor (NaN: none yet)."""
        return self._fto_med

    @property
    def warming_up(self) -> bool:
        return self.n_voiced < MIN_VOICED or self.n_speech < MIN_SPEECH

    def snapshot(self) -> BaselineSnapshot:
        if self._snap is None:
            o = np.empty(6)
            _kb.snapshot(self._q, self._cnt, o)
            med_st = float(o[0])
            self._snap = BaselineSnapshot(
                f0_median_hz=2 ** (med_st / 12) if math.isfinite(med_st) else float("nan"),
                f0_median_st=med_st,
                f0_range_st=float(o[2]),
                speech_level_db=float(o[1]),
                noise_floor_db=_DB_LO + (self._q[0, _kb.Q_NOISE_LO] + 0.5) * 0.5
                if self._q[0, _kb.Q_NOISE_LO] >= 0 else float("nan"),
                rate_sps=float(o[3]),
                fto_median_s=self._fto_med,
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
        for name, off, size in _HISTS:
            arr = np.asarray(d[name], dtype=np.int64)
            if arr.shape != (size,) or (arr < 0).any():
                raise ValueError(f"histogram {name!r} has the wrong shape or negative counts")
            b._h[off:off + size] = arr
        fto = np.asarray(d["fto"], dtype=np.int64)
        if fto.shape != (_FTO_BINS,) or (fto < 0).any():
            raise ValueError("histogram 'fto' has the wrong shape or negative counts")
        b.fto[:] = fto
        b._cnt[0], b._cnt[1], b.n_fto = int(d["n_voiced"]), int(d["n_speech"]), int(d["n_fto"])
        if min(b._cnt[0], b._cnt[1], b.n_fto) < 0:
            raise ValueError("negative frame counts")
        for j in range(_kb.NQ):
            off, size = int(_kb.Q_OFF[j]), int(_kb.Q_SIZE[j])
            b._cnt[2 + j] = b._h[off:off + size].sum()
        _kb.init_quantiles(b._h, b._q, b._cnt)
        b._fto_med = _quantile(b.fto, 0.5, _FTO_LO, 0.05) if b.n_fto else float("nan")
        return b


def load_profile(path: str | Path) -> dict[str, SpeakerBaseline]:
    """Read a profile written by :func:`prosync.streams.profile.save_profile`; clear errors for
    anything else."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProsyncError(f"{path}: profile not found: check the path, or omit profile= "
                           "to start uncalibrated") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProsyncError(f"{path}: not a prosync profile ({exc}): give a file written by "
                           "profile=, or delete it to start afresh") from None
    version = doc.get("prosync_profile") if isinstance(doc, dict) else None
    if version != PROFILE_VERSION:
        raise ProsyncError(f"{path}: profile version {version} is not {PROFILE_VERSION}: "
                           "delete it to start afresh")
    try:
        return {str(k): SpeakerBaseline.from_dict(v) for k, v in doc["speakers"].items()}
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ProsyncError(f"{path}: damaged profile ({exc}): delete it to start afresh") from None


def profile_document(baselines: dict[str, SpeakerBaseline]) -> dict:
    """The versioned JSON document of a profile (written by
    :func:`prosync.streams.profile.save_profile`)."""
    return {"prosync_profile": PROFILE_VERSION,
            "speakers": {name: b.to_dict() for name, b in baselines.items()}}


def open_profile(path: str | Path | None, speakers) -> dict[str, SpeakerBaseline]:
    """The baselines in ``path`` for these speakers (a speaker not in it, or a file that does
    not exist yet, starts uncalibrated); ``{}`` without a path."""
    if path is None:
        return {}
    p = Path(path)
    if p.is_dir():
        raise ProsyncError(f"profile={p} is a folder: give a file name, e.g. client.json")
    if not p.exists():
        if not p.parent.exists():
            raise ProsyncError(f"profile={p}: folder {p.parent} does not exist: create it first")
        return {}
    loaded = load_profile(p)
    return {s: loaded[s] for s in speakers if s in loaded}
