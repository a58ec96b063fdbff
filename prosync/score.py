"""Offline scoring: the same Session as live, fed from files by the one session loop."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prosync.engine.config import Config
from prosync.engine.errors import ProsyncError
from prosync.engine.loop import run_session
from prosync.engine.session import Session
from prosync.streams.atomic import write_json  # noqa: F401 - re-exported (old home)
from prosync.streams.files import FileSource
from prosync.streams.parquet import SessionWriter


@dataclass
class ScoreResult:
    out_dir: Path
    files: list[Path]
    summary: dict
    warnings: list[str] = field(default_factory=list)
    report: Path | None = None


def score(inputs: Sequence[str | Path], out_dir: str | Path, *,
          speakers: Sequence[str] | None = None, channels: Sequence[int] | None = None,
          rttm: str | Path | None = None, config: Config | None = None,
          progress: Callable[[float, float], None] | None = None, report: bool = True,
          textgrid: str | Path | None = None, rttm_out: str | Path | None = None,
          title: str | None = None, profile: str | Path | None = None) -> ScoreResult:
    """Score one recorded session and write its tables, ``summary.json`` and ``report.html``.

    Parameters
    ----------
    inputs : one file (mono: one speaker; stereo: two) or two mono files; with ``rttm`` one mono
        mix.
    speakers : names of the speakers (default ``a``/``b``); with ``rttm`` two of its names.
    profile : a JSON profile of speaker baselines: loaded at the start when it exists (a
        returning speaker starts calibrated), updated with this session's baselines at the end.
    channels : 1-based channels to pick from a multichannel file.
    rttm : the diarization of a mono mix: the mix is split into the two speakers' streams
        (see :mod:`prosync.streams.rttm`); overlapped stretches become ``rttm_overlap`` rows of
        ``turns.parquet``.
    progress : called as ``progress(done_s, total_s)`` after each block.
    report : write ``report.html`` (figures and the summary table, one self-contained page).
    textgrid, rttm_out : also write the IPUs and turn events as a Praat TextGrid / the IPUs as RTTM.

    Two files of different lengths: the shorter is padded with silence to the longer (a warning
    says so).
    """
    for param, path in (("textgrid", textgrid), ("rttm_out", rttm_out)):  # profile: open_profile
        if path is not None:
            _check_writable(param, Path(path), Path(out_dir))  # before, not after, scoring
    source = FileSource(inputs, speakers=speakers, channels=channels, rttm=rttm)
    names = source.speakers
    out = Path(out_dir)
    md = {"inputs": json.dumps([str(p) for p in source.paths]), "speakers": ",".join(names)}
    if source.split:
        md["rttm"] = str(source.split["path"])
    from prosync.calibration.baseline import open_profile
    from prosync.streams.profile import update_profile

    known = open_profile(profile, names)  # before any file is opened: a bad profile writes nothing
    session = Session(names, sample_rate=source.sample_rate, config=config,
                      two_mics=len(names) == 2 and source.split is None, profile=known)
    sinks = [SessionWriter(out, md)]
    if report:
        from prosync.report import ReportSink

        sinks.append(ReportSink(out, names, config=session.config, title=title))

    def add_profile(summary):
        summary["settings"]["profile"] = str(Path(profile).resolve()) if profile is not None else None

    try:
        res = run_session(source, session, sinks, progress=progress, extra=add_profile)
    except BaseException:
        if report and sinks[0].finished:
            _report_not_drawn(out)
        raise
    del session
    files = list(res.files)
    if profile is not None:  # the speakers' baselines, for their next session
        update_profile(profile, res.baselines)
    result = ScoreResult(out, files, res.summary, res.warnings,
                         report=out / "report.html" if report else None)
    if textgrid or rttm_out:
        import pyarrow.parquet as pq

        ev = pq.read_table(out / "turns.parquet").to_pylist()
        if textgrid:
            from prosync.streams.textgrid import write_textgrid

            files.append(write_textgrid(textgrid, names, ev, source.total_s))
        if rttm_out:
            from prosync.streams.rttm import write_rttm

            files.append(write_rttm(rttm_out, Path(source.paths[0]).stem,
                                    [(e["speaker"], e["start_s"], e["end_s"]) for e in ev
                                     if e["kind"] == "ipu"]))
    result.files = files
    return result


def _check_writable(param: str, path: Path, out: Path) -> None:
    """A file written after scoring (``--textgrid``, ``--rttm-out``) can be written: its folder
    exists, or is the output folder (made when scoring starts), and takes a file."""
    from prosync.streams.atomic import AtomicFile

    if path.is_dir():
        raise ProsyncError(f"{param}={path}: is a folder: give a file's path, e.g. "
                           f"{path / ('session.TextGrid' if param == 'textgrid' else 'session.rttm')}")
    folder = path.resolve().parent
    if not folder.is_dir():
        if folder == out.resolve():
            return
        raise ProsyncError(f"{param}={path}: the folder {folder} does not exist: make it, or give "
                           "another path")
    probe = AtomicFile(path).tmp
    try:
        probe.open("wb").close()
        probe.unlink()
    except OSError as exc:
        raise ProsyncError(f"{param}={path}: cannot write in {folder} "
                           f"({exc.strerror or exc}): give another path") from None


def _report_not_drawn(out: Path) -> None:
    """Stopped (Ctrl-C, an error) after the tables and ``summary.json`` were in place but before
    ``report.html`` was: a report left by an earlier run would describe other data, so it goes,
    and the user is told what the folder holds."""
    (out / "report.html").unlink(missing_ok=True)
    logging.getLogger("prosync").warning(
        "%s: stopped while drawing report.html: the tables and summary.json there are complete; "
        "score again for the report", out)
