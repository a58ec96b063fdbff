"""Cost of the one Update -> Arrow conversion (writes bench/results/schema.md).

    python bench/bench_schema.py [--seconds 80]

On the CANDOR ``shift.wav`` looped to ``--seconds`` (the demo dialogue without the shared data),
pushed in 100 ms blocks as a live door does, in the same run:

* the engine: ``Session.push`` of every block (the conversion is never inside it);
* :func:`prosync.streams.arrow.update_batches` of every update, and of the updates of each
  0.25 s (what the ``--record`` journal converts at each flush);
* the JSON path: :func:`prosync.streams.jsonl.update_to_jsonl` of every update (``--jsonl``) and
  :func:`~prosync.streams.jsonl.updates_to_dict` of each 100 ms (a WebSocket message);

each as a fraction of the engine's time; and the peak memory of ``prosync score`` on the
recording with pandas importable and with it blocked (``pa.array`` imports pandas on first use
when it is installed), and how many frame times lie off the 1 ms grid.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _shared import DEMO, ROOT, looped, write_section


def source(seconds: float) -> tuple[np.ndarray, int, str]:
    env = os.environ.get("PROSYNC_SHARED_DATA")
    data = Path(env) if env else ROOT.parent / "shared" / "data"
    wav = data / "candor_mmvap_stereo" / "shift.wav"
    path = wav if wav.exists() else DEMO
    x, sr = looped(path, seconds)
    return (x * 32767).astype(np.int16), sr, path.name


def peak_rss(args, block_pandas: bool) -> float:
    """Peak RSS (MB, VmHWM) of ``prosync`` in a child process."""
    pre = ("import sys\nclass NoPandas:\n    def find_spec(self, name, *a):\n"
           "        if name.split('.')[0] == 'pandas':\n            raise ImportError(name)\n"
           "sys.meta_path.insert(0, NoPandas())\n") if block_pandas else ""
    code = (pre + "import re,sys;from prosync.cli import main;rc=main(sys.argv[1:]);"
            "hwm=re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1);"
            "print('RSS', hwm, file=sys.stderr);sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return [int(ln.split()[1]) for ln in p.stderr.splitlines() if ln.startswith("RSS")][0] / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=80.0)
    args = ap.parse_args()
    from prosync import Session
    from prosync.streams.arrow import update_batches, warm
    from prosync.streams.jsonl import update_to_jsonl, updates_to_dict

    x, sr, name = source(args.seconds)
    warm()
    Session(sample_rate=sr).push(0, x[:sr, 0])  # kernels loaded before timing
    s = Session(sample_rate=sr)
    step = sr // 10
    ups = []
    t0 = time.perf_counter()
    for i in range(0, len(x), step):
        ups.append(s.push(0, x[i:i + step, 0]))
        ups.append(s.push(1, x[i:i + step, 1]))
    ups.append(s.close())
    t_engine = time.perf_counter() - t0
    groups = [[u for u in ups[k:k + 2] if u] for k in range(0, len(ups), 2)]  # 100 ms each
    ups = [u for u in ups if u]
    t0 = time.perf_counter()
    batches = [update_batches(u) for u in ups]
    t_arrow = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(0, len(groups), 5):
        update_batches([u for g in groups[k:k + 5] for u in g])
    t_journal = time.perf_counter() - t0
    t0 = time.perf_counter()
    lines = sum(update_to_jsonl(u).count("\n") for u in ups)
    t_json = time.perf_counter() - t0
    t0 = time.perf_counter()
    for g in groups:
        json.dumps(updates_to_dict(g), allow_nan=False)
    t_ws = time.perf_counter() - t0
    frames = [b for bs in batches for n, b in bs if n == "frames"]
    t = np.concatenate([b.column("t_s").to_numpy() for b in frames])
    off = sum(v != round(v, 3) for v in t.tolist())

    with tempfile.TemporaryDirectory() as td:
        wav = Path(td) / "in.wav"
        import soundfile as sf

        sf.write(wav, x, sr, subtype="PCM_16")
        common = ["score", str(wav), "--out", str(Path(td) / "o"), "--quiet", "--no-report"]
        rss_pd = peak_rss(common, block_pandas=False)
        rss_no = peak_rss(common[:3] + [str(Path(td) / "o2")] + common[4:], block_pandas=True)

    per = 1e6 / len(ups)
    text = (
        "## Schema conversion (`python bench/bench_schema.py`)\n\n"
        f"{name} looped to {args.seconds:g} s, pushed in 100 ms blocks per speaker: "
        f"{len(ups)} updates, {len(t):,} frame rows, {lines:,} JSON lines. Busy shared machine "
        "(2 cores, other jobs running): read the ratios, not the absolute times.\n\n"
        "| step | total | per update | / engine |\n|---|---|---|---|\n"
        f"| engine (`Session.push`) | {t_engine:.2f} s | {t_engine * per:.0f} µs | 1 |\n"
        f"| `update_batches` (Parquet, journal) | {t_arrow:.2f} s | {t_arrow * per:.0f} µs | "
        f"{t_arrow / t_engine:.3f} |\n"
        f"| `update_batches` per 0.25 s (journal flush) | {t_journal:.2f} s | "
        f"{t_journal * per:.0f} µs | {t_journal / t_engine:.3f} |\n"
        f"| `update_to_jsonl` per update (`--jsonl`) | {t_json:.2f} s | {t_json * per:.0f} µs | "
        f"{t_json / t_engine:.3f} |\n"
        f"| `updates_to_dict` + `json.dumps` per 100 ms (WebSocket message) | {t_ws:.2f} s | "
        f"{t_ws * per:.0f} µs | {t_ws / t_engine:.3f} |\n\n"
        f"Frame times off the 1 ms grid: {off} of {len(t):,}.\n\n"
        f"`prosync score --no-report` peak RSS: {rss_pd:.0f} MB with pandas importable, "
        f"{rss_no:.0f} MB with it blocked (pa.array's one-time import of pandas: "
        f"{rss_pd - rss_no:+.0f} MB).\n")
    write_section("schema", text)


if __name__ == "__main__":
    main()
