"""What the bench scripts share: paths, the evaluation data, result pages, timing and peers.

A script in ``bench/`` imports it as ``from _shared import ...`` (its folder is on ``sys.path``
when it runs); one in ``bench/reliability/`` as ``from bench._shared import ...``. Importing it
puts the repository on ``sys.path``, so ``prosync``, ``tests.*`` and ``bench.*`` import from the
working tree.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

#: The repository.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BENCH = ROOT / "bench"
#: Each script writes its section here (``<name>.md``, raw figures as JSON); ``run_all.py``
#: gathers the sections into ``bench/RESULTS.md``.
RESULTS = BENCH / "results"
#: The built-in two-speaker demo (espeak-ng voices; shipped with the package).
DEMO = ROOT / "prosync" / "data" / "demo_dialogue.flac"


def shared_data() -> Path:
    """The evaluation data (``../shared/data`` or ``$PROSYNC_SHARED_DATA``); without it the
    script prints "skipped: ..." and exits 0."""
    env = os.environ.get("PROSYNC_SHARED_DATA")
    p = Path(env) if env else ROOT.parent / "shared" / "data"
    if not p.is_dir():
        print(f"skipped: evaluation data not found at {p} (set PROSYNC_SHARED_DATA)")
        sys.exit(0)
    return p


def write_section(name: str, text: str) -> Path:
    """Write ``bench/results/<name>.md`` (a section of ``bench/RESULTS.md``) and print it."""
    out = RESULTS / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return out


def looped(path: str | Path, seconds: float, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """A recording tiled to ``seconds`` (float32, ``(n, channels)``), resampled (soxr) to
    ``sample_rate`` if given; returns ``(samples, rate)``."""
    import soundfile as sf

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if sample_rate and sample_rate != sr:
        import soxr

        x, sr = soxr.resample(x, sr, sample_rate).astype(np.float32), sample_rate
    n = int(round(seconds * sr))
    return np.tile(x, (-(-n // len(x)), 1))[:n], sr


def percentiles(values, qs=(50, 99, 99.9)) -> list[float]:
    """The ``qs`` percentiles of ``values`` (NaN for an empty sample)."""
    v = np.asarray(values, dtype=np.float64)
    return [float(np.percentile(v, q)) if v.size else float("nan") for q in qs]


def one_core() -> str:
    """Pin this process to one CPU (Linux); returns a note for the results page."""
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def praat_pitch_ac(x: np.ndarray, sr: int, floor_hz: float = 60.0, ceiling_hz: float = 500.0) -> None:
    """The peer: Praat's ``to_pitch_ac`` (parselmouth) at a 10 ms step on every channel of ``x``."""
    import parselmouth

    for c in range(x.shape[1]):
        snd = parselmouth.Sound(x[:, c].astype(np.float64), sampling_frequency=sr)
        snd.to_pitch_ac(time_step=0.01, pitch_floor=floor_hz, pitch_ceiling=ceiling_hz)


def config_with(sets):
    """The default Config with ``section.field=value`` overrides (a bench's ``--set``)."""
    from dataclasses import replace

    import prosync

    cfg = prosync.Config()
    for item in sets:
        key, val = item.split("=")
        sec, name = key.split(".")
        cfg = replace(cfg, **{sec: replace(getattr(cfg, sec), **{name: type(getattr(
            getattr(cfg, sec), name))(val)})})
    return cfg.validate()
