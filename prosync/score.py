"""Offline scoring: the same Session as live, fed from files in blocks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prosync.engine.config import Config
from prosync.engine.errors import AudioInputError
from prosync.engine.session import Session
from prosync.engine.summary import SessionSummary
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
    stats = SessionSummary(names)
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
    tmp.write_text(json.dumps(summary, indent=2, allow_nan=False))
    os.replace(tmp, sp)
    return ScoreResult(out, files + [sp], summary, warnings)


