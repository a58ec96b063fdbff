"""The long fuzz run: the audio-file readers, the RTTM and manifest parsers, the WebSocket protocol.

    python bench/reliability/fuzz.py [--n 100000] [--targets audio,rttm,manifest,ws] [--seed 0]
                                     [--save-corpus]

Input ``i`` of a target is generated from ``numpy.random.default_rng([seed, i])`` by the
generators of ``tests/fuzz_targets.py`` (the same ones the short hypothesis tests use), so any
input can be regenerated from its index (``--replay TARGET:I`` prints it and runs it).

Each target runs in a child process watched by this one: the child announces every input before
running it; an input that does not finish within ``--hang-s`` is a hang, a child that dies
(a segfault in a C library) is a crash; either way the child is restarted after that input. An
exception other than ``ProsyncError`` (or an unclear message, or a broken invariant) is a crash.
For ``ws`` the child talks to a ``prosync serve`` process on 127.0.0.1 (its death or an
``internal`` error code is a crash); each input is one connection carrying several messages,
and every message counts as an input.

``--save-corpus`` keeps, in ``tests/fuzz_corpus/<target>/``, the first input of every distinct
outcome (parsed, or each kind of error message) and every crash, for the CI replay.
Results: ``bench/results/fuzz.json`` and the fuzz rows of ``bench/reliability/RELIABILITY.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a file: put the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._shared import RESULTS, ROOT  # noqa: E402

CORPUS = ROOT / "tests" / "fuzz_corpus"
MAX_SAVED = 25


def _signature(outcome: str, msg: str) -> str:
    """An outcome class: numbers, quoted values and paths stripped from the message."""
    m = re.sub(r"'[^']*'|\"[^\"]*\"", "Q", msg)
    m = re.sub(r"/\S+", "P", m)
    m = re.sub(r"\d+(\.\d+)?", "N", m)
    return f"{outcome}:{m[:90]}"


def _save(target: str, name: str, case) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if target == "audio":
        suffix, data = case["files"][0]
        (d / f"{name}{suffix}").write_bytes(data)
    elif target == "rttm":
        (d / f"{name}.rttm").write_bytes(case[0])
    elif target == "manifest":
        (d / f"{name}.csv").write_bytes(case)
    elif target == "ws":
        from tests.fuzz_targets import ws_case_to_json

        (d / f"{name}.json").write_text(ws_case_to_json(case))


# --------------------------------------------------------------------------- the child
def worker(target: str, seed: int, start: int, n: int, save: bool, url: str | None) -> None:
    import numpy as np

    from prosync.engine.errors import ProsyncError
    from tests import fuzz_targets as F

    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)  # libmpg123's notes on corrupt MP3s
    out = sys.stdout
    seen: set[str] = set()
    if save:
        seen = {p.stem.split("-", 1)[1] for p in (CORPUS / target).glob("*-*")}
    if target == "ws":
        gen = F.gen_ws
        ws = F.WsChecker(url)

        def check(case, d):
            return ws.check(case)
    else:
        gen, check = F.TARGETS[target]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for i in range(start, n):
            case = gen(F.RngSource(np.random.default_rng([seed, i])))
            out.write(f"B {i}\n")
            out.flush()
            msg = ""
            t0 = time.perf_counter()
            try:
                r = check(case, d)
                if isinstance(r, tuple):
                    r, msg = r
            except ProsyncError as exc:  # an oracle lets only clear errors through as "error"
                r, msg = "crash", f"unclear ProsyncError: {exc!r}"
            except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                r = "crash"
                msg = f"{type(exc).__name__} at {Path(tb.filename).name}:{tb.lineno}: {str(exc)[:200]}"
            dt = time.perf_counter() - t0
            if r == "error" and not msg:
                msg = F.LAST_ERROR[0]
            count = F.LAST_COUNT[0] if target == "ws" else 1
            out.write(json.dumps({"i": i, "r": r, "dt": dt, "msg": msg[:300], "count": count}) + "\n")
            out.flush()
            if save:
                sig = _signature(r, msg if r != "crash" else msg.split(":")[0])
                h = hashlib.sha1(sig.encode()).hexdigest()[:10]
                if r == "crash" or (h not in seen and len(seen) < MAX_SAVED):
                    seen.add(h)
                    _save(target, f"{'crash' if r == 'crash' else 'branch'}-{h}", case)


# --------------------------------------------------------------------------- the watchdog
def _start_server():
    p = subprocess.Popen([sys.executable, "-m", "prosync.cli", "serve", "--port", "0",
                          "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, cwd=ROOT)
    t0 = time.time()
    line = ""
    while time.time() - t0 < 30:
        line = p.stderr.readline()
        m = re.search(r"(ws://127\.0\.0\.1:\d+)", line)
        if m:
            return p, m.group(1)
    p.kill()
    raise RuntimeError(f"prosync serve did not start: {line}")


def run_target(target: str, n: int, seed: int, hang_s: float, save: bool, log=print) -> dict:
    res = {"inputs": 0, "cases": 0, "accepted": 0, "rejected": 0, "crashes": 0, "hangs": 0,
           "slowest_s": 0.0, "crash_examples": [], "hang_examples": [], "restarts": 0}
    server = url = None
    server_err: list[str] = []
    if target == "ws":
        server, url = _start_server()
        import threading

        threading.Thread(target=lambda: server_err.extend(server.stderr), daemon=True).start()
    t0 = time.perf_counter()
    i = 0
    last_log = time.time()
    try:
        while i < n:
            cmd = [sys.executable, __file__, "--worker", target, "--seed", str(seed), "--start", str(i),
                   "--n", str(n)] + (["--save-corpus"] if save else []) + (["--url", url] if url else [])
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
            current = None
            while True:
                ready, _, _ = select.select([p.stdout], [], [], hang_s)
                if not ready:
                    if current is None:
                        continue  # still importing
                    res["hangs"] += 1
                    res["hang_examples"].append(f"input {current}: no result in {hang_s} s")
                    p.kill()
                    p.wait()
                    i = current + 1
                    break
                line = p.stdout.readline()
                if not line:
                    p.wait()
                    if current is not None:
                        res["crashes"] += 1
                        res["crash_examples"].append(f"input {current}: the process died ({p.returncode})")
                        i = current + 1
                    else:
                        i = n
                    break
                if line.startswith("B "):
                    current = int(line[2:])
                    continue
                r = json.loads(line)
                current = None
                i = r["i"] + 1
                res["cases"] += 1
                res["inputs"] += r["count"]
                res["slowest_s"] = max(res["slowest_s"], r["dt"])
                if r["r"] == "ok":
                    res["accepted"] += r["count"]
                elif r["r"] == "error":
                    res["rejected"] += r["count"]
                elif r["r"] == "crash":
                    res["crashes"] += 1
                    cls = _signature("crash", r["msg"])
                    res.setdefault("crash_classes", {})
                    if cls not in res["crash_classes"]:
                        res["crash_examples"].append(f"input {r['i']}: {r['msg']}")
                    res["crash_classes"][cls] = res["crash_classes"].get(cls, 0) + 1
                if time.time() - last_log > 30:
                    last_log = time.time()
                    log(f"  {target}: {i}/{n} cases, {res['inputs']} inputs, {res['crashes']} crashes, "
                        f"{res['hangs']} hangs")
            res["restarts"] += 1
        if server is not None:
            if server.poll() is not None:
                res["crashes"] += 1
                res["crash_examples"].append(f"prosync serve exited with {server.returncode}")
            tb = [ln for ln in server_err if "Traceback" in ln]
            if tb:
                res["server_tracebacks"] = len(tb)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    res["restarts"] -= 1
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    res["per_s"] = round(res["inputs"] / max(res["wall_s"], 1e-9), 1)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="inputs per file target (default 100000)")
    ap.add_argument("--ws-cases", type=int, default=0,
                    help="connections for the ws target (default: enough for --n messages)")
    ap.add_argument("--targets", default="audio,rttm,manifest,ws")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hang-s", type=float, default=10.0)
    ap.add_argument("--save-corpus", action="store_true")
    ap.add_argument("--replay", help="TARGET:I: regenerate input I and run it here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(RESULTS / "fuzz.json"))
    a = ap.parse_args(argv)
    if a.worker:
        worker(a.worker, a.seed, a.start, a.n, a.save_corpus, a.url)
        return 0
    if a.replay:
        import numpy as np

        from tests import fuzz_targets as F

        t, i = a.replay.split(":")
        gen = F.gen_ws if t == "ws" else F.TARGETS[t][0]
        case = gen(F.RngSource(np.random.default_rng([a.seed, int(i)])))
        print(repr(case)[:4000])
        with tempfile.TemporaryDirectory() as d:
            if t == "ws":
                srv, url = _start_server()
                try:
                    print(F.WsChecker(url).check(case))
                finally:
                    srv.terminate()
            else:
                print(F.TARGETS[t][1](case, Path(d)))
        return 0
    results = {"n": a.n, "seed": a.seed, "hang_s": a.hang_s, "targets": {}}
    prev = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    if prev.get("seed") == a.seed and prev.get("n") == a.n:
        results["targets"].update(prev.get("targets", {}))
    for t in a.targets.split(","):
        n = a.n
        if t == "ws":
            n = a.ws_cases or max(1, a.n // 6)
        print(f"fuzz {t}: {n} cases ...", flush=True)
        r = run_target(t, n, a.seed, a.hang_s, a.save_corpus, log=lambda m: print(m, flush=True))
        results["targets"][t] = r
        print(f"fuzz {t}: {r['inputs']} inputs ({r['cases']} cases) in {r['wall_s']} s: {r['accepted']} "
              f"parsed, {r['rejected']} clear errors, {r['crashes']} crashes, {r['hangs']} hangs; slowest "
              f"{r['slowest_s']:.3f} s", flush=True)
        for c in r["crash_examples"][:10]:
            print("   crash:", c)
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(results, indent=1))
    try:
        from bench.reliability.report import update_fuzz
    except ImportError:
        from reliability import update_fuzz
    update_fuzz(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
