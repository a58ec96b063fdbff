"""One command for every benchmark: run them and gather their sections into bench/RESULTS.md.

    python bench/run_all.py                    # every bench/bench_*.py (speed, accuracy)
    python bench/run_all.py core pitch         # some of them (bench_core.py, bench_pitch.py)
    python bench/run_all.py reliability        # every bench/reliability/ script, default sizes
    python bench/run_all.py all                # both
    python bench/run_all.py --collect          # only gather the existing results into RESULTS.md
    python bench/run_all.py --list             # what there is

Every script runs in a child process of its own (``nice``-friendly: ``nice -n 5 python ...``),
writes ``bench/results/<name>.md`` and exits 0 (or prints "skipped: ..." when the evaluation data
is absent). The reliability scripts' sizes are their own defaults (the soak is 8 audio hours).
"""

from __future__ import annotations

import subprocess
import sys
import time

from _shared import BENCH, RESULTS, ROOT

#: The reliability scripts, in the order they run (the cheap ones first); each updates
#: ``bench/reliability/RELIABILITY.md`` through ``bench/reliability/report.py``.
RELIABILITY = ["server_memory", "fuzz", "kill", "load_ws", "soak"]


#: The order of the sections in RESULTS.md (benches not listed follow, by name).
ORDER = ["core", "hop", "pitch", "rate", "vad_turns", "wcc", "sync", "sync_null", "sync_power",
         "sync_hop", "offline", "resample", "live", "ws"]


def benches() -> list[str]:
    """The names of the speed and accuracy benches (``bench/bench_<name>.py``), in ORDER."""
    names = sorted(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py"))
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def script(name: str):
    if name in RELIABILITY:
        return BENCH / "reliability" / f"{name}.py"
    return BENCH / f"bench_{name}.py"


def main(argv) -> int:
    if "--list" in argv:
        print("benches:", " ".join(benches()))
        print("reliability:", " ".join(RELIABILITY))
        return 0
    collect_only = "--collect" in argv
    names = [a for a in argv if not a.startswith("--")] or ["benches"]
    todo: list[str] = []
    for n in names:
        todo += {"benches": benches(), "reliability": RELIABILITY,
                 "all": benches() + RELIABILITY}.get(n, [n])
    failed = []
    for name in ([] if collect_only else todo):
        path = script(name)
        if not path.exists():
            print(f"no such bench: {name} (see --list)")
            failed.append(name)
            continue
        print(f"==> {path.relative_to(ROOT)}", flush=True)
        t0 = time.time()
        rc = subprocess.run([sys.executable, str(path)], cwd=ROOT).returncode
        print(f"    ({time.time() - t0:.0f} s{'' if rc == 0 else f', exit {rc}'})", flush=True)
        if rc:
            failed.append(name)
    parts = ["# Benchmark results\n",
             "Written by `python bench/run_all.py` (`./run bench`). Speeds are ratios to a peer "
             "measured in the same run; accuracy is on real recordings against their references.\n"]
    for name in benches() + ["server_memory"]:
        f = RESULTS / f"{name}.md"
        if f.exists():
            parts.append(f.read_text())
    rel = BENCH / "reliability" / "RELIABILITY.md"
    if rel.exists():
        parts.append(rel.read_text())
    (BENCH / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {BENCH / 'RESULTS.md'}")
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
