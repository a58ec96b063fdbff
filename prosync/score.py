"""Offline scoring: the same Session as live, fed from files in blocks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prosync.engine.config import Config
from prosync.engine.errors import AudioInputError
from prosync.engine.session import Session
from prosync.streams.files import plan_sources, read_blocks
from prosync.streams.parquet import SessionWriter


@dataclass
class ScoreResult:
    out_dir: Path
    files: list[Path]
    summary: dict
    warnings: list[str]


def score(inputs: Sequence[str | Path], out_dir: str | Path, *,
          speakers: Sequence[str] | None = None, channels: Sequence[int] | None = None,
          config: Config | None = None,
          progress: Callable[[float, float], None] | None = None) -> ScoreResult:
    """Score one recorded session and write ``frames.parquet``, ``turns.parquet``, ``summary.json``.

    Parameters
    ----------
    inputs : one file (mono: one speaker; stereo: two) or two mono files.
    speakers : names of the speakers (default ``a``/``b``).
    channels : 1-based channels to pick from a multichannel file.
    progress : called as ``progress(done_s, total_s)`` after each block.
    """
    sources = plan_sources(inputs, channels, n_speakers=len(speakers) if speakers else None)
    names = tuple(speakers) if speakers else ("a", "b")[: len(sources)]
    if len(names) != len(sources):
        raise AudioInputError(
            f"--speakers names {len(names)} speaker(s) but the input has {len(sources)} "
            "speaker channel(s): give one name per channel"
        )
    sr = sources[0].sample_rate
    if any(s.sample_rate != sr for s in sources):
        raise AudioInputError(
            f"{sources[0].path} and {sources[1].path} have different sample rates "
            f"({sr} and {sources[1].sample_rate} Hz): convert one so they match"
        )
    total_s = max(s.frames for s in sources) / sr
    out = Path(out_dir)
    writer = SessionWriter(out, {"inputs": json.dumps([str(s.path) for s in sources]),
                                 "speakers": ",".join(names)})
    stats = _Stats(names)
    warnings = []
    session = Session(names, sample_rate=sr, config=config, two_mics=len(names) == 2)
    done = 0
    try:
        for blocks in read_blocks(sources):
            for i, b in enumerate(blocks):
                stats.audio(i, b)
                if len(b):
                    upd = session.push(i, b)
                    writer(upd)
                    stats.update(upd)
            done += max(len(b) for b in blocks)
            if progress:
                progress(done / sr, total_s)
        upd = session.close()
        writer(upd)
        stats.update(upd)
        warnings = stats.check_audio(sources)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    summary = stats.summary(total_s, session)
    summary["warnings"] = warnings
    sp = out / "summary.json"
    tmp = out / ".summary.json.partial"
    tmp.write_text(json.dumps(summary, indent=2, allow_nan=False, default=_jsonable))
    os.replace(tmp, sp)
    return ScoreResult(out, files + [sp], summary, warnings)


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(type(v))


def _f(v):
    """JSON-safe float: None for NaN."""
    v = float(v)
    return None if not np.isfinite(v) else round(v, 4)


class _Stats:
    """Running per-speaker statistics (bounded memory: histograms, counters)."""

    def __init__(self, names):
        self.names = names
        self.n = dict.fromkeys(names, 0)
        self.voiced = dict.fromkeys(names, 0)
        self.speech = dict.fromkeys(names, 0)
        self.nuclei = dict.fromkeys(names, 0)
        # semitone histogram re 1 Hz, 0.1 st bins from 0 to 120 st: exact-enough quantiles
        self.f0_hist = {n: np.zeros(1200, dtype=np.int64) for n in names}
        self.events: dict[str, int] = {}
        self.ftos: list[float] = []
        self.ipus = dict.fromkeys(names, 0)
        self.ipu_time = dict.fromkeys(names, 0.0)
        self.peak = [0.0] * len(names)
        self.clipped = [0] * len(names)
        self.dc = [0.0] * len(names)
        self.samples = [0] * len(names)

    def audio(self, i, b):
        if len(b):
            self.peak[i] = max(self.peak[i], float(np.max(np.abs(b))))
            self.clipped[i] += int(np.count_nonzero(np.abs(b) >= 0.999))
            self.dc[i] += float(np.sum(b, dtype=np.float64))
            self.samples[i] += len(b)

    def update(self, upd):
        for spk, c in upd.frames.items():
            self.n[spk] += len(c["t_s"])
            v = c["voiced"]
            self.voiced[spk] += int(v.sum())
            self.speech[spk] += int(c["speech"].sum())
            self.nuclei[spk] += int((c["nucleus_age"] >= 0).sum())
            f0 = c["f0_hz"][v & np.isfinite(c["f0_hz"])]
            if f0.size:
                st = np.clip((12 * np.log2(f0) * 10).astype(np.int64), 0, 1199)
                np.add.at(self.f0_hist[spk], st, 1)
        for e in upd.events:
            self.events[e.kind] = self.events.get(e.kind, 0) + 1
            if e.kind == "ipu":
                self.ipus[e.speaker] += 1
                self.ipu_time[e.speaker] += e.end_s - e.start_s
            if np.isfinite(e.fto_s):
                self.ftos.append(float(e.fto_s))

    def check_audio(self, sources):
        warn = []
        for i, s in enumerate(sources):
            where = f"{s.path}" + (f" channel {s.channel + 1}" if s.channel else "")
            if self.samples[i] and self.peak[i] < 10 ** (-90 / 20):
                warn.append(f"{where} is silent (peak below -90 dBFS): no speech can be found in it")
            if self.samples[i] and self.clipped[i] > 0.001 * self.samples[i]:
                warn.append(f"{where} is clipped ({100 * self.clipped[i] / self.samples[i]:.2f}% "
                            "of samples at full scale): lower the recording gain")
            dc = self.dc[i] / max(self.samples[i], 1)
            if abs(dc) > 0.01:
                warn.append(f"{where} has a DC offset of {dc:+.3f} full scale: energy and voice "
                            "activity may be biased; high-pass the recording")
        return warn

    def summary(self, total_s, session):
        spk = {}
        for name in self.names:
            h = self.f0_hist[name]
            tot = h.sum()
            if tot:
                cdf = np.cumsum(h) / tot
                q = [(np.searchsorted(cdf, p) + 0.5) / 10 for p in (0.05, 0.5, 0.95)]
                med_hz = 2 ** (q[1] / 12)
                rng = q[2] - q[0]
            else:
                med_hz, rng = float("nan"), float("nan")
            n = max(self.n[name], 1)
            speech_s = self.speech[name] * 0.01
            spk[name] = {
                "frames": self.n[name],
                "voiced_fraction": _f(self.voiced[name] / n),
                "speech_fraction": _f(self.speech[name] / n),
                "speech_s": _f(speech_s),
                "f0_median_hz": _f(med_hz),
                "f0_range_st_5_95": _f(rng),
                "syllables": self.nuclei[name],
                "speech_rate_sps": _f(self.nuclei[name] / total_s) if total_s else None,
                "articulation_rate_sps": _f(self.nuclei[name] / self.ipu_time[name])
                if self.ipu_time[name] else None,
                "ipus": self.ipus[name],
            }
        ftos = np.array(self.ftos)
        return {
            "duration_s": _f(total_s),
            "lookahead_s": _f(session.lookahead_s),
            "speakers": spk,
            "turn_events": self.events,
            "fto_s": {
                "count": int(ftos.size),
                "median": _f(np.median(ftos)) if ftos.size else None,
                "values": [round(v, 3) for v in ftos.tolist()],
            },
        }
