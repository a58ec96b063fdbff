"""Run every bench script and gather their tables into bench/RESULTS.md.

    python bench/run_all.py            # all
    python bench/run_all.py core pitch # some
    python bench/run_all.py --collect  # only gather the existing results into RESULTS.md
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["core", "pitch", "rate", "vad_turns", "wcc", "sync", "offline", "live", "ws", "server_memory",
           "end_of_turn"]


def main(argv):
    collect_only = "--collect" in argv
    names = [a for a in argv if not a.startswith("--")] or SCRIPTS
    for name in ([] if collect_only else names):
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"no such bench: {script}")
            continue
        print(f"==> {script.name}", flush=True)
        t0 = time.time()
        subprocess.run([sys.executable, str(script)], check=True)
        print(f"    ({time.time() - t0:.0f} s)")
    parts = ["# Benchmark results\n",
             "Written by `python bench/run_all.py` (`./run bench`). Speeds are ratios to a peer "
             "measured in the same run; accuracy is on real recordings against their references.\n"]
    for name in SCRIPTS:
        f = HERE / "results" / f"{name}.md"
        if f.exists():
            parts.append(f.read_text())
    rel = HERE / "RELIABILITY.md"
    if rel.exists():
        parts.append(rel.read_text())
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
