"""Kill tests: SIGKILL at random moments of ``prosync score``, ``prosync corpus`` and
``prosync live --record`` (through the virtual microphone of ``tests/virtual_mic.py``).

    python bench/reliability/kill.py [--runs 20] [--targets score,corpus,live] [--seed 0]

Each run starts the command, waits a random time within its measured clean duration, sends
SIGKILL to its process group and then checks:

* every output file that exists is readable (Parquet, JSON, HTML, FLAC; journals through
  ``prosync.streams.journal.read_table``); temporary ``.partial`` names are counted, not read;
* nothing finished is lost: every output file that was complete (by its visible name) just before
  the kill, and every corpus session that was done, is still there and readable;
* the rerun completes (``score`` again, ``corpus`` resumes, ``recover`` of the recording).

"files lost" counts finished files missing or unreadable after the kill (must be 0).
Results: ``bench/results/kill.json`` and the kill rows of ``bench/reliability/RELIABILITY.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

if __package__ in (None, ""):  # run as a file: put the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._shared import DEMO, RESULTS, ROOT  # noqa: E402

PROSYNC = [sys.executable, "-m", "prosync.cli"]
TABLES = ("frames", "turns", "synchrony", "pacing", "series")


def readable(p: Path) -> bool:
    try:
        if p.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.read_table(p)
        elif p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix in (".flac", ".wav"):
            sf.read(str(p), frames=1000)
            sf.info(str(p))
        elif p.suffix == ".html":
            assert p.read_text().rstrip().endswith("</html>")
        else:
            p.read_bytes()
        return True
    except Exception:  # noqa: BLE001 - that is the finding
        return False


def visible_files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and ".work" not in p.parts and ".partial" not in p.name) if d.exists() else []


def _kill(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def _run_killed(cmd, delay, snapshot):
    """Start ``cmd``; after ``delay`` s take ``snapshot()`` and SIGKILL the process group."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                         start_new_session=True)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < delay and p.poll() is None:
        time.sleep(0.01)
    before = snapshot()
    finished = p.poll() is not None
    _kill(p)
    return before, finished


def _new(target):
    return {"runs": 0, "files_checked": 0, "unreadable": 0, "files_lost": 0, "partial_left": 0,
            "reruns_ok": 0, "finished_before_kill": 0, "kill_s": [], "problems": []}


def _close(r):
    r["kill_s_min"] = float(min(r["kill_s"])) if r["kill_s"] else 0.0
    r["kill_s_max"] = float(max(r["kill_s"])) if r["kill_s"] else 0.0
    r["kill_s"] = [round(x, 3) for x in r["kill_s"]]
    return r


# --------------------------------------------------------------------------- score
def make_stereo(path: Path, seconds: float) -> Path:
    x, sr = sf.read(str(DEMO), dtype="int16")
    n = int(seconds * sr)
    x = np.tile(x, (int(np.ceil(n / len(x))), 1))[:n]
    sf.write(str(path), x, sr, subtype="PCM_16")
    return path


def kill_score(work: Path, runs: int, rng: random.Random, seconds: float = 120.0, log=print) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    wav = make_stereo(work / "in.wav", seconds)
    r = _new("score")
    t0 = time.perf_counter()
    subprocess.run(PROSYNC + ["score", str(wav), "--out", str(work / "clean"), "--quiet"], check=True,
                   cwd=ROOT)
    full = time.perf_counter() - t0
    expected = sorted(p.name for p in visible_files(work / "clean"))
    for k in range(runs):
        out = work / f"out{k}"
        cmd = PROSYNC + ["score", str(wav), "--out", str(out), "--quiet"]
        delay = rng.uniform(0.0, full * 1.05)
        before, _ = _run_killed(cmd, delay,
                                lambda out=out: [p for p in visible_files(out) if readable(p)])
        r["kill_s"].append(delay)
        r["runs"] += 1
        r["finished_before_kill"] += len(before)
        after = visible_files(out)
        r["files_checked"] += len(after)
        bad = [p for p in after if not readable(p)]
        r["unreadable"] += len(bad)
        lost = [p for p in before if not p.exists() or not readable(p)]
        r["files_lost"] += len(lost)
        r["partial_left"] += len([p for p in out.rglob("*.partial")]) if out.exists() else 0
        r["problems"] += [f"run {k}: unreadable {p.name}" for p in bad]
        r["problems"] += [f"run {k}: lost {p.name}" for p in lost]
        rc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        names = sorted(p.name for p in visible_files(out))
        ok = rc.returncode == 0 and names == expected and all(readable(p) for p in visible_files(out))
        r["reruns_ok"] += ok
        if not ok:
            r["problems"].append(f"run {k}: rerun rc={rc.returncode} files {names}: {rc.stderr[-300:]}")
        log(f"  score kill {k + 1}/{runs} at {delay:.2f} s: {len(before)} files done before, "
            f"{len(after)} after, rerun {'ok' if ok else 'FAILED'}")
    r["clean_s"] = round(full, 2)
    return _close(r)


# --------------------------------------------------------------------------- corpus
def make_corpus(d: Path, n: int, seconds: float) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    x, sr = sf.read(str(DEMO), dtype="int16")
    m = int(seconds * sr)
    for i in range(n):
        y = np.roll(x, -i * 7 * sr, axis=0)[:m]
        sf.write(str(d / f"s{i}.flac"), y, sr, subtype="PCM_16")
    return d


def _done_sessions(out: Path) -> list[str]:
    return sorted(p.parent.name.split("=", 1)[1] for p in (out / "summary").glob("session=*/summary.json"))


def _session_ok(out: Path, s: str) -> bool:
    return all(readable(out / t / f"session={s}" / "part-0.parquet") for t in TABLES) and \
        readable(out / "summary" / f"session={s}" / "summary.json")


def kill_corpus(work: Path, runs: int, rng: random.Random, sessions: int = 6, seconds: float = 98.0,
                log=print) -> dict:
    src = make_corpus(work / "in", sessions, seconds)
    r = _new("corpus")
    t0 = time.perf_counter()
    subprocess.run(PROSYNC + ["corpus", str(src), "--out", str(work / "clean"), "--workers", "1", "--quiet"],
                   check=True, cwd=ROOT)
    full = time.perf_counter() - t0
    for k in range(runs):
        out = work / f"out{k}"
        cmd = PROSYNC + ["corpus", str(src), "--out", str(out), "--workers", "1", "--quiet"]
        delay = rng.uniform(0.0, full * 1.05)
        before, _ = _run_killed(cmd, delay, lambda out=out: [s for s in _done_sessions(out)
                                                               if _session_ok(out, s)])
        r["kill_s"].append(delay)
        r["runs"] += 1
        r["finished_before_kill"] += len(before)
        after = visible_files(out)
        r["files_checked"] += len(after)
        bad = [p for p in after if not readable(p)]
        r["unreadable"] += len(bad)
        lost = [s for s in before if not _session_ok(out, s)]
        r["files_lost"] += 6 * len(lost)
        # sessions complete when the process died: the snapshot is taken just before the kill,
        # and one more may finish in between (the rerun rightly skips it)
        done_at_kill = [s for s in _done_sessions(out) if _session_ok(out, s)]
        # a partition without a summary is an unfinished session: the rerun removes it
        r["problems"] += [f"run {k}: unreadable {p}" for p in bad]
        r["problems"] += [f"run {k}: lost session {s}" for s in lost]
        rc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        ok = False
        if rc.returncode == 0:
            summ = json.loads((out / "corpus_summary.json").read_text())
            done = _done_sessions(out)
            ok = (summ["done"] == sessions and len(done) == sessions
                  and summ["scored_this_run"] == sessions - len(done_at_kill)
                  and all(_session_ok(out, s) for s in done)
                  and all(readable(p) for p in visible_files(out)))
        r["reruns_ok"] += ok
        if not ok:
            r["problems"].append(f"run {k}: rerun rc={rc.returncode}: {rc.stderr[-300:]}")
        log(f"  corpus kill {k + 1}/{runs} at {delay:.2f} s: {len(before)} sessions done before, "
            f"rerun {'ok' if ok else 'FAILED'}")
    r["clean_s"] = round(full, 2)
    return _close(r)


# --------------------------------------------------------------------------- live --record
def kill_live(work: Path, runs: int, rng: random.Random, log=print) -> dict:
    from prosync.streams.journal import read_table
    from tests import virtual_mic

    r = _new("live")
    why = virtual_mic.unavailable()
    if why:
        r["skipped"] = why
        return _close(r)
    x, sr = sf.read(str(DEMO), dtype="int16")
    excerpt = work / "excerpt.wav"
    work.mkdir(parents=True, exist_ok=True)
    sf.write(str(excerpt), x[30 * sr:45 * sr], sr, subtype="PCM_16")
    with virtual_mic.VirtualMic(rate=16000) as vm:
        for k in range(runs):
            rec = work / f"rec{k}"
            cmd = PROSYNC + ["live", "--device", virtual_mic.DEVICE, "--rate", "16000", "--jsonl", "-",
                             "--record", str(rec), "--segment-s", "1.0"]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
                                 start_new_session=True, text=True)
            p.stdout.readline()                               # capture is running
            import threading

            threading.Thread(target=lambda f=p.stdout: [None for _ in f], daemon=True).start()  # drain
            play = vm.play(excerpt)
            delay = rng.uniform(0.2, 6.0)
            time.sleep(delay)
            before = [q for q in visible_files(rec) if q.suffix == ".parquet" and readable(q)]
            _kill(p)
            play.terminate()
            play.wait(10)
            r["kill_s"].append(delay)
            r["runs"] += 1
            r["finished_before_kill"] += len(before)
            after = visible_files(rec)
            r["files_checked"] += len(after)
            bad = [q for q in after if q.suffix != ".arrows" and not readable(q)]
            try:
                n_rows = read_table(rec, "frames").num_rows        # journals to their last full batch
            except Exception as exc:  # noqa: BLE001
                n_rows = -1
                bad.append(Path(f"metrics journal ({exc!r})"))
            r["unreadable"] += len(bad)
            lost = [q for q in before if not q.exists() or not readable(q)]
            r["files_lost"] += len(lost)
            r["problems"] += [f"run {k}: unreadable {q}" for q in bad]
            r["problems"] += [f"run {k}: lost {q.name}" for q in lost]
            rc = subprocess.run(PROSYNC + ["recover", str(rec)], cwd=ROOT, capture_output=True, text=True)
            ok = rc.returncode == 0 and readable(rec / "frames.parquet") and readable(rec / "audio.flac")
            if ok:
                import pyarrow.parquet as pq

                ok = pq.read_table(rec / "frames.parquet").num_rows == n_rows
            r["reruns_ok"] += ok
            if not ok:
                r["problems"].append(f"run {k}: recover rc={rc.returncode}: {rc.stderr[-300:]}")
            log(f"  live kill {k + 1}/{runs} at {delay:.2f} s: {len(before)} segments before, {n_rows} "
                f"frame rows kept, recover {'ok' if ok else 'FAILED'}")
    return _close(r)


def run(targets, runs: int, seed: int = 0, work: Path | None = None, log=print) -> dict:
    import tempfile

    rng = random.Random(seed)
    res = {"runs": runs, "seed": seed, "targets": {}}
    with tempfile.TemporaryDirectory(prefix="prosync-kill-") as d:
        base = Path(work or d)
        for t in targets:
            fn = {"score": kill_score, "corpus": kill_corpus, "live": kill_live}[t]
            name = {"score": "prosync score", "corpus": "prosync corpus",
                    "live": "prosync live --record"}[t]
            t0 = time.perf_counter()
            res["targets"][name] = fn(base / t, runs, rng, log=log)
            res["targets"][name]["wall_s"] = round(time.perf_counter() - t0, 1)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--targets", default="score,corpus,live")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULTS / "kill.json"))
    a = ap.parse_args(argv)
    res = run(a.targets.split(","), a.runs, a.seed, log=lambda m: print(m, flush=True))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    for name, t in res["targets"].items():
        print(f"{name}: {t['runs']} kills ({t['kill_s_min']:.2f}-{t['kill_s_max']:.2f} s), "
              f"{t['files_checked']} files checked, {t['unreadable']} unreadable, {t['files_lost']} lost, "
              f"reruns ok "
              f"{t['reruns_ok']}/{t['runs']}" + (f" SKIPPED: {t['skipped']}" if t.get("skipped") else ""))
        for p in t["problems"][:10]:
            print("   ", p)
    try:
        from bench.reliability.report import update_kill
    except ImportError:
        from reliability import update_kill
    update_kill(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
