"""Soak: hours of generated two-speaker audio through one ``Session`` at full speed.

    python bench/reliability/soak.py [--hours 8] [--window-min 5] [--warmup-min 10] [--seed 0]

The audio is generated on the fly: the built-in demo dialogue (16 kHz stereo, 98 s) tiled, each
tile rolled by a random offset and scaled by a random gain per speaker (within +-3 dB), so no two
tiles are the same and nothing but the current block is held in memory. Any stretch of the
stream can be regenerated exactly from its position (``Tiles.read``).

Measured:

* memory: the process RSS after every minute of audio; the slope (MB per hour of audio, least
  squares) over the whole run after the first 10 minutes (start-up: numba compilation, buffers
  reaching their steady size);
* the final window: the frames, synchrony and pacing rows of the last ``--window-min`` minutes
  are compared with those of a fresh ``Session`` fed the same audio after ``--warmup-min``
  minutes of warm-up (the audio just before the window). Per-frame acoustic features (F0,
  periodicity, energy, nuclei) depend only on nearby audio and must be bit-identical; values
  that carry long-term state (speaker baselines: median F0 and speech level, the noise floor
  behind the VAD threshold, synchrony's surrogate history) may differ, and the number of
  identical rows per column is reported.

Writes ``bench/results/soak.json`` and updates the soak rows of ``bench/reliability/RELIABILITY.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

if __package__ in (None, ""):  # run as a file: put the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._shared import DEMO, RESULTS  # noqa: E402

BLOCK = 8000          # samples per push and speaker (0.5 s at 16 kHz)


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MB (from /proc)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def slope_per_hour(t_h: np.ndarray, mb: np.ndarray) -> float:
    """Least-squares slope of ``mb`` over ``t_h`` (MB per hour); NaN with fewer than 3 points."""
    if len(t_h) < 3:
        return float("nan")
    return float(np.polyfit(np.asarray(t_h, float), np.asarray(mb, float), 1)[0])


class Tiles:
    """The generated stream: tile ``k`` is the demo rolled by ``off[k]`` times ``gain[k]``."""

    def __init__(self, seed: int = 0):
        x, self.sr = sf.read(str(DEMO), dtype="float32")
        self.demo = x
        self.n = len(x)
        self.seed = seed

    def _params(self, k: int) -> tuple[int, np.ndarray]:
        rng = np.random.default_rng([self.seed, k])
        off = int(rng.integers(0, self.n))
        gain = (10 ** (rng.uniform(-3, 3, size=2) / 20)).astype(np.float32)
        return off, gain

    def _piece(self, k: int, o: int, m: int, params=None) -> np.ndarray:
        """Samples ``o .. o+m`` of tile ``k`` (``o + m <= n``): ``demo[(i + off) % n] * gain``,
        made block by block (a whole rolled tile per tile would churn 12.6 MB allocations,
        and the allocator's growth would be read as the session's)."""
        off, gain = self._params(k) if params is None else params
        a = (o + off) % self.n
        if a + m <= self.n:
            return self.demo[a:a + m] * gain
        return np.concatenate([self.demo[a:], self.demo[:a + m - self.n]]) * gain

    def read(self, start: int, n: int) -> np.ndarray:
        """Samples ``start .. start+n`` of the stream, shape (n, 2) float32."""
        out = np.empty((n, 2), np.float32)
        got = 0
        while got < n:
            k, o = divmod(start + got, self.n)
            m = min(n - got, self.n - o)
            out[got:got + m] = self._piece(k, o, m)
            got += m
        return out

    def blocks(self, start: int, stop: int, block: int = BLOCK):
        """Yield (position, (m, 2) block) from ``start`` to ``stop``."""
        k_cached, params = -1, None
        pos = start
        while pos < stop:
            k, o = divmod(pos, self.n)
            if k != k_cached:
                params, k_cached = self._params(k), k
            m = min(block, stop - pos, self.n - o)
            yield pos, self._piece(k, o, m, params)
            pos += m


class Collector:
    """Frames / synchrony / pacing rows with ``t_s >= t0`` (the final window)."""

    def __init__(self, t0: float, speakers):
        self.t0 = t0
        self.frames = {s: [] for s in speakers}
        self.sync: list = []
        self.pacing: list = []

    def __call__(self, u) -> None:
        for s, c in u.frames.items():
            if len(c) and c["t_s"][-1] >= self.t0:
                self.frames[s].append(c[c["t_s"] >= self.t0])
        self.sync += [r for r in u.synchrony if r.window_start_s >= self.t0]
        self.pacing += [r for r in u.pacing if r.t_s >= self.t0]

    def frames_of(self, s):
        return np.concatenate(self.frames[s]) if self.frames[s] else None


def feed(session, tiles: Tiles, start: int, stop: int, on_update, on_minute=None,
         block: int = BLOCK) -> float:
    """Push samples ``start..stop`` of the stream into ``session`` (speaker blocks alternating);
    returns the compute seconds."""
    minute = 60 * tiles.sr
    next_min = (start // minute + 1) * minute
    t0 = time.perf_counter()
    for pos, b in tiles.blocks(start, stop, block):
        on_update(session.push(0, np.ascontiguousarray(b[:, 0])))
        on_update(session.push(1, np.ascontiguousarray(b[:, 1])))
        if on_minute is not None and pos + len(b) >= next_min:
            on_minute((pos + len(b)) / tiles.sr)
            next_min += minute
    return time.perf_counter() - t0


def _eq(a, b) -> np.ndarray:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype.kind == "f":
        return (a == b) | (np.isnan(a) & np.isnan(b))
    return a == b


def compare(long: Collector, fresh: Collector, shift_s: float, speakers) -> dict:
    """Rows of the final window: identical counts per column (``t_s`` compared after the shift)."""
    out = {"frames": {}, "synchrony": {}, "pacing": {}}
    for s in speakers:
        a, b = long.frames_of(s), fresh.frames_of(s)
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        cols = {}
        all_eq = np.ones(n, bool)
        for c in a.dtype.names:
            e = _eq(a[c], b[c] + shift_s) if c == "t_s" else _eq(a[c], b[c])
            if c == "t_s":
                e = np.isclose(a[c], b[c] + shift_s, rtol=0, atol=1e-6)
            cols[c] = int(e.sum())
            all_eq &= e
        first_diff = {c: (float(a["t_s"][np.flatnonzero(~_eq(a[c], b[c]))[0]] - long.t0)
                          if c != "t_s" and cols[c] < n else None) for c in a.dtype.names}
        out["frames"][s] = {"rows": n, "rows_long": len(long.frames_of(s)),
                            "rows_fresh": len(fresh.frames_of(s)),
                            "identical_rows": int(all_eq.sum()), "identical_by_column": cols,
                            "first_difference_s_into_window": {k: v for k, v in first_diff.items()
                                                               if v is not None}}
    for name, la, fa, keys in (
            ("synchrony", long.sync, fresh.sync, ("r_lag0", "r_peak", "lag_s", "z", "n_valid")),
            ("pacing", long.pacing, fresh.pacing, None)):
        n = min(len(la), len(fa))
        if keys is None and n:
            keys = [k for k in vars(la[0]) if k != "t_s"]
        keys = keys or ()
        cols = {k: int(sum(bool(_eq(getattr(x, k), getattr(y, k))) for x, y in zip(la[:n], fa[:n])))
                for k in keys}
        diff = {}
        for k in keys:
            a = np.array([getattr(x, k) for x in la[:n]], dtype=float)
            b = np.array([getattr(y, k) for y in fa[:n]], dtype=float)
            both = np.isfinite(a) & np.isfinite(b)
            if both.any() and cols[k] < n:
                diff[k] = float(np.max(np.abs(a[both] - b[both])))
        rows = int(sum(all(bool(_eq(getattr(x, k), getattr(y, k))) for k in keys)
                       for x, y in zip(la[:n], fa[:n])))
        out[name] = {"rows_long": len(la), "rows_fresh": len(fa), "identical_rows": rows,
                     "identical_by_column": cols, "max_abs_difference": diff}
    return out


def run(hours: float, window_min: float = 5.0, warmup_min: float = 10.0, seed: int = 0,
        block: int = BLOCK, log=print) -> dict:
    import gc

    from prosync import Session

    tiles = Tiles(seed)
    sr = tiles.sr
    total = int(round(hours * 3600 * sr))
    total -= total % 160
    win = int(window_min * 60 * sr)
    win -= win % 160
    warm = int(warmup_min * 60 * sr)
    warm -= warm % 160
    w0 = max(total - win, 0)
    speakers = ("a", "b")
    samples: list[tuple[float, float]] = []
    wall0 = time.perf_counter()

    def on_minute(t_audio_s):
        samples.append((t_audio_s, rss_mb()))
        if len(samples) % 60 == 0:
            t, m = samples[-1]
            log(f"  {t / 3600:6.2f} h audio  RSS {m:7.1f} MB  wall {time.perf_counter() - wall0:7.1f} s")

    s = Session(speakers, sample_rate=sr)
    long = Collector(w0 / sr, speakers)
    compute = feed(s, tiles, 0, total, long, on_minute, block)
    long(s.close())
    del s
    gc.collect()
    t = np.array([x[0] for x in samples]) / 3600
    mb = np.array([x[1] for x in samples])
    # the slope: after start-up (10 min) and before the final window, whose rows are kept for
    # the comparison below (that memory is the benchmark's, not the session's)
    steady = (t >= 10 / 60) & (t <= w0 / sr / 3600)
    res = {
        "audio_hours": total / sr / 3600, "compute_s": round(compute, 1),
        "rtf": round(compute / (total / sr), 5), "block_samples": block, "seed": seed,
        "rss_samples": len(samples),
        "rss_first_mb": round(float(mb[0]), 1) if len(mb) else None,
        "rss_after_10min_mb": round(float(mb[steady][0]), 1) if steady.any() else None,
        "rss_last_mb": round(float(mb[-1]), 1) if len(mb) else None,
        "rss_at_window_start_mb": round(float(mb[steady][-1]), 1) if steady.any() else None,
        "rss_max_mb": round(float(mb.max()), 1) if len(mb) else None,
        "slope_mb_per_audio_hour": round(slope_per_hour(t[steady], mb[steady]), 3),
        "rss_series": [[round(float(a), 4), round(float(b), 1)] for a, b in zip(t, mb)],
    }
    if total / sr > 3600:
        late = steady & (t >= 1.0)
        res["slope_mb_per_audio_hour_after_1h"] = round(slope_per_hour(t[late], mb[late]), 3)
    # the final window again, through a fresh session after warm-up
    start = max(w0 - warm, 0)
    f = Session(speakers, sample_rate=sr)
    fresh = Collector((w0 - start) / sr, speakers)
    feed(f, tiles, start, total, fresh, None, block)
    fresh(f.close())
    res.update(window_s=win / sr, warmup_s=(w0 - start) / sr, window_start_s=w0 / sr)
    res["final_window"] = compare(long, fresh, start / sr, speakers)
    res["wall_s"] = round(time.perf_counter() - wall0, 1)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--window-min", type=float, default=5.0)
    ap.add_argument("--warmup-min", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "soak.json"))
    a = ap.parse_args(argv)
    print(f"soak: {a.hours} h of generated two-speaker audio through one Session ...", flush=True)
    res = run(a.hours, a.window_min, a.warmup_min, a.seed, log=lambda m: print(m, flush=True))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    fw = res["final_window"]
    print(f"audio {res['audio_hours']:.2f} h in {res['compute_s']:.0f} s (RTF {res['rtf']}); RSS "
          f"{res['rss_after_10min_mb']} MB after 10 min -> {res['rss_at_window_start_mb']} MB at the "
          f"final window -> {res['rss_last_mb']} MB at the end (window rows kept), max "
          f"{res['rss_max_mb']} MB; slope {res['slope_mb_per_audio_hour']} MB/audio-hour")
    for s, d in fw["frames"].items():
        print(f"final window, speaker {s}: {d['identical_rows']} of {d['rows']} frames identical to a "
              f"fresh session; by column {d['identical_by_column']}; first differences "
              f"{d['first_difference_s_into_window']}")
    for k in ("synchrony", "pacing"):
        n = min(fw[k]['rows_long'], fw[k]['rows_fresh'])
        print(f"final window {k}: {fw[k]['identical_rows']} of {n} "
              f"rows identical; by column {fw[k]['identical_by_column']}; max |difference| "
              f"{fw[k]['max_abs_difference']}")
    try:
        from bench.reliability.report import update_soak
    except ImportError:
        from reliability import update_soak
    update_soak(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
