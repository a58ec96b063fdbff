"""``prosync corpus``: score every session of a folder into one partitioned Parquet dataset.

Sessions (naming rule, files directly in DIR or below):

* ``NAME.<ext>``: a stereo file, speakers ``a`` (channel 1) and ``b`` (channel 2);
* ``NAME.<ext>`` + ``NAME.rttm``: a mono mix split by its RTTM (speakers named by the RTTM);
* ``NAME.<spk1>.<ext>`` + ``NAME.<spk2>.<ext>``: two mono files, speakers named ``spk1``/``spk2``
  (in alphabetical order of the labels);
* or ``--manifest CSV`` with columns ``session,audio[,audio2][,rttm][,speakers]`` (paths relative
  to the CSV).

Output (``OUT``): ``<table>/session=NAME/part-0.parquet`` for every session table of the schema
(frames, turns, synchrony, pacing, series, end_of_turn, turn_end; hive partitions:
``pyarrow.dataset.dataset(OUT / "frames", partitioning="hive")`` gives a ``session`` column),
``summary/session=NAME/summary.json``, ``failures.parquet`` (session, file, reason),
``sessions.parquet`` and ``corpus_summary.json`` (with pseudo-dyad significance).

Nothing is lost: a session is scored into ``OUT/.work/NAME/`` (every file written to a temporary
name, fsynced, renamed); its tables are then renamed into their partitions and its
``summary.json`` last. A session is done when its summary exists; a rerun skips done sessions,
deletes the leftovers of unfinished ones and scores them again.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prosync.engine.config import DEFAULT_PRESET
from prosync.engine.schema import SESSION_TABLES

#: The per-session tables partitioned by session (every session table of the one schema).
TABLES = tuple(SESSION_TABLES)
AUDIO_EXT = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf", ".opus"}
FEATURES = {"f0": "f0_st", "energy": "energy_db", "rate": "rate_sps", "vad": "vad"}


@dataclass
class SessionSpec:
    session: str
    inputs: list[str]
    rttm: str | None = None
    speakers: list[str] | None = None
    seconds: float = 0.0
    problem: str | None = None  # a naming problem found while discovering (-> failure row)
    extra: dict = field(default_factory=dict)


def discover(root: str | Path, manifest: str | Path | None = None) -> list[SessionSpec]:
    """The sessions of ``root`` by the naming rule (or the manifest), sorted by name."""
    from prosync.engine.errors import ProsyncError

    if manifest:
        return _read_manifest(Path(manifest))
    root = Path(root)
    if not root.is_dir():
        raise ProsyncError(f"{root}: is not a folder: give the folder holding the sessions")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    audio = [p for p in files if p.suffix.lower() in AUDIO_EXT]
    if not audio:
        raise ProsyncError(f"{root}: no audio files in it or below it "
                           f"({', '.join(sorted(AUDIO_EXT))}): give the folder holding the "
                           "sessions, or a manifest=")
    rttms = {p.with_suffix(""): p for p in files if p.suffix.lower() == ".rttm"}
    groups: dict[Path, list[Path]] = {}
    for p in audio:
        stem = p.with_suffix("")
        if stem in rttms:
            groups.setdefault(stem, []).append(p)
            continue
        parts = p.name.split(".")
        key = p.parent / parts[0] if len(parts) >= 3 else stem
        groups.setdefault(key, []).append(p)
    out = []
    for key, ps in sorted(groups.items()):
        name = key.name
        if key in rttms and len(ps) == 1:
            out.append(SessionSpec(name, [str(ps[0])], str(rttms[key])))
        elif len(ps) == 1:
            out.append(SessionSpec(name, [str(ps[0])]))
        elif len(ps) == 2:
            labels = [p.name.split(".")[-2] for p in ps]
            out.append(SessionSpec(name, [str(p) for p in ps], speakers=labels))
        else:
            out.append(SessionSpec(name, [str(p) for p in ps],
                                   problem=f"{len(ps)} files share the session name {name!r}: "
                                           "use NAME.spk1.ext + NAME.spk2.ext, or a manifest"))
    seen: dict[str, int] = {}
    for s in out:
        seen[s.session] = seen.get(s.session, 0) + 1
    for s in out:
        if seen[s.session] > 1 and not s.problem:
            s.problem = (f"session name {s.session!r} is used in {seen[s.session]} folders: rename "
                         "the files or give a manifest")
    return out


def _bad_name(name: str) -> str | None:
    """Why ``name`` cannot be a session name (it becomes a folder name in the dataset), or None."""
    if not name:
        return "is empty"
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        return "is not a plain file name (it has a slash or starts with a dot)"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains control characters"
    return None


def _read_manifest(m: Path) -> list[SessionSpec]:
    """Parse a manifest CSV (``session,audio[,audio2][,rttm][,speakers]``, paths relative to it).

    Every problem is a :class:`ProsyncError` naming the file and the line: the manifest is
    checked whole before anything is scored."""
    from prosync.engine.errors import ProsyncError

    if not m.exists():
        raise ProsyncError(f"{m}: manifest not found: check the path given to manifest=")
    if m.is_dir():
        raise ProsyncError(f"{m}: is a folder: give the manifest CSV file to manifest=")
    base = m.parent
    try:
        with open(m, newline="", encoding="utf-8-sig") as f:
            rd = csv.DictReader(f)
            header = [(h or "").strip() for h in (rd.fieldnames or [])]
            rd.fieldnames = header
            rows = [(rd.line_num, r) for r in rd]
    except UnicodeDecodeError as exc:
        raise ProsyncError(f"{m}: is not UTF-8 text (bad byte at offset {exc.start}): save the "
                           "manifest as a UTF-8 CSV") from None
    except csv.Error as exc:
        raise ProsyncError(f"{m}: is not a readable CSV ({str(exc).splitlines()[0]}): save it as a "
                           "plain comma-separated file") from None
    except OSError as exc:
        raise ProsyncError(f"{m}: cannot read the manifest ({exc.strerror or exc}): check the "
                           "file") from None
    if "session" not in header or "audio" not in header:
        raise ProsyncError(f"{m}: needs a header with at least 'session,audio' columns "
                           "(comma-separated); its first line has "
                           f"{', '.join(repr(h) for h in header[:6]) or 'nothing'}")
    out: list[SessionSpec] = []
    seen: dict[str, int] = {}
    for no, r in rows:
        if r.get(None):
            raise ProsyncError(f"{m}:{no}: has more fields than the header ({len(header)}): quote "
                               'fields that contain commas, e.g. "client,coach"')
        v = {k: (r.get(k) or "").strip() for k in ("session", "audio", "audio2", "rttm", "speakers")}
        if not any(v.values()):
            continue  # a blank line
        why = _bad_name(v["session"])
        if why:
            raise ProsyncError(f"{m}:{no}: session name {v['session']!r} {why}: use a plain name "
                               "such as s01 (it names the session's folders in the dataset)")
        if v["session"] in seen:
            raise ProsyncError(f"{m}:{no}: session {v['session']!r} is already on line "
                               f"{seen[v['session']]}: give every session its own name")
        seen[v["session"]] = no
        if not v["audio"]:
            raise ProsyncError(f"{m}:{no}: session {v['session']!r} has no audio file: fill in the "
                               "'audio' column")
        ins = [str(base / v["audio"])] + ([str(base / v["audio2"])] if v["audio2"] else [])
        spk = [s.strip() for s in v["speakers"].split(",")] if v["speakers"] else None
        out.append(SessionSpec(v["session"], ins, str(base / v["rttm"]) if v["rttm"] else None, spk))
    if not out:
        raise ProsyncError(f"{m}: lists no sessions: add one row per session under the header")
    return sorted(out, key=lambda s: s.session)


def _seconds(spec: SessionSpec) -> float:
    import soundfile as sf

    try:
        return max(sf.info(p).duration for p in spec.inputs)
    except Exception:  # noqa: BLE001 - a broken file is reported when it is scored
        return 0.0


def done(out: Path, session: str) -> bool:
    return (out / "summary" / f"session={session}" / "summary.json").exists()


def score_session(spec: SessionSpec, out_root: str, report: bool = False,
                  preset: str = DEFAULT_PRESET) -> dict:
    """Score one session into the dataset (run in a worker process or on a Dask worker).

    Returns ``{"session", "status": "done"|"failed", "file", "reason", "seconds", "wall_s"}``;
    never raises for a bad input.
    """
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from prosync.engine.config import Config
    from prosync.engine.errors import ProsyncError
    from prosync.score import score
    from prosync.streams.atomic import fsync_dir

    out = Path(out_root)
    t0 = time.perf_counter()
    row = {"session": spec.session, "status": "failed", "file": ";".join(spec.inputs), "reason": "",
           "seconds": 0.0, "wall_s": 0.0}
    if spec.problem:
        row["reason"] = spec.problem
        return row
    work = out / ".work" / spec.session
    shutil.rmtree(work, ignore_errors=True)
    try:
        spk = spec.speakers or (None if spec.rttm else ["a", "b"])  # a corpus needs two speakers
        res = score(spec.inputs, work, speakers=spk, rttm=spec.rttm, report=report,
                    config=Config.preset(preset))
    except (ProsyncError, OSError, ValueError, RuntimeError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        bad = [p for p in spec.inputs + ([spec.rttm] if spec.rttm else []) if p and p in msg]
        row.update(reason=msg, file=bad[0] if bad else row["file"],
                   wall_s=time.perf_counter() - t0)
        return row
    for t in TABLES:
        dst = out / t / f"session={spec.session}"
        dst.mkdir(parents=True, exist_ok=True)
        os.replace(work / f"{t}.parquet", dst / "part-0.parquet")
        fsync_dir(dst)
    sdir = out / "summary" / f"session={spec.session}"
    sdir.mkdir(parents=True, exist_ok=True)
    if report and (work / "report.html").exists():
        os.replace(work / "report.html", sdir / "report.html")
    os.replace(work / "summary.json", sdir / "summary.json")  # last: the session is done
    fsync_dir(sdir)
    shutil.rmtree(work, ignore_errors=True)
    row.update(status="done", reason="", seconds=float(res.summary.get("duration_s") or 0.0),
               wall_s=time.perf_counter() - t0)
    return row


def clean_unfinished(out: Path, specs) -> None:
    """Remove the leftovers of sessions that did not finish (partitions without a summary)."""
    shutil.rmtree(out / ".work", ignore_errors=True)
    for s in specs:
        if done(out, s.session):
            continue
        for t in TABLES:
            shutil.rmtree(out / t / f"session={s.session}", ignore_errors=True)


def _write_table(path: Path, table: str, cols: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prosync.streams.arrow import columns_batch
    from prosync.streams.atomic import atomic_path

    t = pa.Table.from_batches([columns_batch(table, cols)])
    with atomic_path(path) as tmp:
        pq.write_table(t, str(tmp))


def corpus_pseudo_dyads(out: Path, sessions: list[str], *, preset=DEFAULT_PRESET) -> dict:
    """Pseudo-dyad significance across the dataset's sessions: reads each session's
    ``series.parquet`` (sessions without two speakers are left out) and runs
    :func:`prosync.engine.pseudo.pseudo_dyads` with the synchrony settings of ``preset`` (a name
    or a ``SyncConfig``); returns :func:`~prosync.engine.pseudo.pseudo_summary`'s dict.
    """
    import numpy as np
    import pyarrow.parquet as pq

    from prosync.engine.errors import ProsyncError
    from prosync.engine.pseudo import pseudo_dyads, pseudo_summary
    from prosync.report import _np, _speaker_mask

    series = {}
    for s in sessions:
        p = out / "series" / f"session={s}" / "part-0.parquet"
        if not p.exists():
            continue
        t = pq.ParquetFile(p).read()
        sp = list(dict.fromkeys(t.column("speaker").to_pylist()))
        if len(sp) != 2:
            continue
        masks = [_speaker_mask(t.column("speaker"), n) for n in sp]
        series[s] = {f: [_np(t.column(c))[m].astype(np.float32) for m in masks]
                     for f, c in FEATURES.items()}
    try:
        res = pseudo_dyads(dict(sorted(series.items())), preset=preset, features=list(FEATURES))
    except ProsyncError as exc:
        return pseudo_summary({}, preset=preset, n_sessions=len(series), reason=str(exc))
    return pseudo_summary(res, preset=preset, n_sessions=len(series))


def shippable(spec: SessionSpec) -> SessionSpec:
    """The session with absolute paths, to be scored by a process in another working folder
    (a Dask worker): relative paths would resolve against the worker's folder."""
    from dataclasses import replace

    return replace(spec, inputs=[str(Path(p).resolve()) for p in spec.inputs],
                   rttm=str(Path(spec.rttm).resolve()) if spec.rttm else None)


def run_corpus(root, out, *, manifest=None, workers=None, dask=None, report=False, progress=True,
               console=None, preset=DEFAULT_PRESET) -> dict:
    """Score a corpus (see the module docstring); returns the corpus summary.

    ``preset`` names the synchrony settings (``"live"``, ``"research"``) of every session and
    of the pseudo-dyads."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from prosync.corpus_workers import run_dask, run_pool
    from prosync.engine.config import SyncConfig
    from prosync.streams.atomic import output_folder, write_json

    SyncConfig.preset(preset)  # an unknown name fails before anything is scored

    out = output_folder(out)
    specs = discover(root, manifest)
    clean_unfinished(out, specs)
    todo = [s for s in specs if not done(out, s.session)]
    for s in todo:
        s.seconds = _seconds(s)
    total = sum(s.seconds for s in todo) or 1.0
    console = console or Console(stderr=True)
    rows, failures = [], []
    interrupted = False
    t0 = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    with Progress(TextColumn("scoring corpus"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(), TextColumn("ETA"),
                  TimeRemainingColumn(), console=console, disable=not progress) as prog:
        task = prog.add_task("", total=len(todo))
        secs = 0.0

        def finished(r, spec):
            nonlocal secs
            rows.append(r)
            if r["status"] != "done":
                failures.append({"session": r["session"], "file": r["file"], "reason": r["reason"]})
            secs += spec.seconds
            prog.update(task, advance=1, description=f"{secs / 3600:.2f}/{total / 3600:.2f} h audio")

        running: dict[str, SessionSpec] = {}  # scoring when an interrupt came
        try:
            if dask:
                run_dask(score_session, shippable, dask, todo, out, report, preset, finished, running)
            elif workers == 1:
                for s in todo:
                    running[s.session] = s
                    finished(score_session(s, str(out), report, preset), s)
                    del running[s.session]
            else:
                run_pool(score_session, workers, todo, out, report, preset, finished, running)
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        scored = {r["session"] for r in rows}
        for s in todo:
            if s.session not in scored:
                why = ("interrupted (Ctrl-C) while it was scored" if s.session in running
                       else "not scored: the run was interrupted (Ctrl-C) before it started")
                failures.append({"session": s.session, "file": ";".join(s.inputs),
                                 "reason": f"{why}; run the same command again to score it"})
    wall = time.perf_counter() - t0
    _write_table(out / "failures.parquet", "failures",
                 {k: [f[k] for f in failures] for k in ("session", "file", "reason")})
    done_names = [s.session for s in specs if done(out, s.session)]
    summaries = {}
    for s in done_names:
        summaries[s] = json.loads((out / "summary" / f"session={s}" / "summary.json").read_text())
    _write_table(out / "sessions.parquet", "sessions",
                 {"session": done_names,
                  "duration_s": [float(summaries[s].get("duration_s") or 0.0) for s in done_names]})
    summary = {
        "sessions": len(specs), "done": len(done_names), "failed": len(failures),
        "scored_this_run": sum(r["status"] == "done" for r in rows),
        "audio_hours": round(sum(float(v.get("duration_s") or 0) for v in summaries.values()) / 3600, 4),
        "wall_s_this_run": round(wall, 2),
        "interrupted": interrupted,
        "failures": failures,
        # after an interrupt the run stops at once: the pseudo-dyads wait for a complete run
        "pseudo_dyads": corpus_pseudo_dyads(out, done_names, preset=preset) if not interrupted
        else {"reason": "the run was interrupted: run the same command again to finish it"},
    }
    write_json(out / "corpus_summary.json", summary)
    if interrupted:
        console.print(f"interrupted: {len(done_names)}/{len(specs)} sessions done; the unfinished "
                      f"ones are listed in {out / 'failures.parquet'}; run the same command again "
                      "to resume")
        raise KeyboardInterrupt
    return summary


__all__ = ["SessionSpec", "asdict", "corpus_pseudo_dyads", "discover", "run_corpus", "score_session"]
