"""Offline scoring: the same Session as live, fed from files in blocks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prosync.engine.config import Config
from prosync.engine.errors import AudioInputError
from prosync.engine.session import Session
from prosync.engine.summary import SessionSummary, input_files
from prosync.engine.turns import TurnEvent
from prosync.streams.files import AudioSource, plan_sources, read_blocks
from prosync.streams.parquet import SessionWriter, fsync_dir


@dataclass
class ScoreResult:
    out_dir: Path
    files: list[Path]
    summary: dict
    warnings: list[str] = field(default_factory=list)
    report: Path | None = None


def _plan(inputs, speakers, channels, rttm):
    """Sources (one per speaker), speaker names, and the RTTM split (or None)."""
    if rttm is None:
        sources = plan_sources(inputs, channels, n_speakers=len(speakers) if speakers else None)
        names = tuple(speakers) if speakers else ("a", "b")[: len(sources)]
        if len(names) != len(sources):
            raise AudioInputError(
                f"--speakers names {len(names)} speaker(s) but the input has {len(sources)} "
                "speaker channel(s): give one name per channel"
            )
        return sources, names, None
    from prosync.streams import rttm as R

    if len(inputs) != 1:
        raise AudioInputError("--rttm splits one mono mix: give one audio file with it, not "
                              f"{len(inputs)}")
    if channels and len(channels) != 1:
        raise AudioInputError("--rttm splits one channel: give --channels with one channel number")
    src = plan_sources(inputs, channels)
    if len(src) != 1:
        raise AudioInputError(
            f"{src[0].path}: has {len(src)} channels, but --rttm splits a mono mix: pick the mix's "
            "channel with --channels N, or drop --rttm for a stereo file (one speaker per channel)")
    s = src[0]
    names, turns = R.select(R.read_rttm(rttm), Path(rttm), s.path, s.frames / s.sample_rate, speakers)
    iv = [R.intervals(turns, n, s.sample_rate) for n in names]
    split = {"path": Path(rttm), "intervals": iv, "overlaps": R.overlaps(iv[0], iv[1])}
    return [s, AudioSource(s.path, s.channel, s.sample_rate, s.frames)], names, split


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
    sources, names, split = _plan(inputs, speakers, channels, rttm)
    sr = sources[0].sample_rate
    if any(s.sample_rate != sr for s in sources):
        raise AudioInputError(
            f"{sources[0].path} and {sources[1].path} have different sample rates "
            f"({sr} and {sources[1].sample_rate} Hz): convert one so they match"
        )
    warnings = []
    if len(sources) == 2 and sources[0].path != sources[1].path and \
            abs(sources[0].frames - sources[1].frames) > sr // 100:
        short, long_ = sorted(sources, key=lambda s: s.frames)
        warnings.append(
            f"{short.path} ({short.frames / sr:.2f} s) is shorter than {long_.path} "
            f"({long_.frames / sr:.2f} s): padded with silence to {long_.frames / sr:.2f} s")
    total_s = max(s.frames for s in sources) / sr
    out = Path(out_dir)
    md = {"inputs": json.dumps([str(s.path) for s in sources[:1 if split else 2]]),
          "speakers": ",".join(names)}
    if split:
        md["rttm"] = str(split["path"])
    from prosync.calibration.baseline import open_profile, update_profile

    known = open_profile(profile, names)  # before any file is opened: a bad profile writes nothing
    writer = SessionWriter(out, md)
    stats = SessionSummary(names)
    session = Session(names, sample_rate=sr, config=config,
                      two_mics=len(names) == 2 and split is None, profile=known)
    cfg = session.config
    done = 0
    try:
        if split:
            from prosync.streams.rttm import gate
        for blocks in read_blocks(sources):
            for i, b in enumerate(blocks):
                if split and len(b):
                    b = gate(b, done, split["intervals"][i])
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
        if split and len(split["overlaps"]):
            ov = [TurnEvent("rttm_overlap", "+".join(names), round(a / sr, 3), round(b / sr, 3))
                  for a, b in split["overlaps"]]
            from prosync.streams.arrow import rows_batch

            writer.sinks["turns"].write(rows_batch("turns", ov))
        warnings += stats.check_audio(sources if not split else sources[:1])
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    lookahead = session.lookahead_s
    summary = stats.summary(total_s, session)
    baselines = session.baselines
    del session, stats, writer
    summary["warnings"] = warnings
    summary["lookahead_s"] = summary.get("lookahead_s", lookahead)
    summary["inputs"] = input_files(sources[:1] if split else sources)
    summary["settings"]["profile"] = str(Path(profile).resolve()) if profile is not None else None
    if split:
        ov = split["overlaps"]
        summary["rttm"] = {"file": str(split["path"]), "overlaps": int(len(ov)),
                           "overlap_s": round(float((ov[:, 1] - ov[:, 0]).sum()) / sr, 3)}
    sp = write_json(out / "summary.json", summary)
    if profile is not None:  # the speakers' baselines, for their next session
        update_profile(profile, baselines)
    files.append(sp)
    res = ScoreResult(out, files, summary, warnings)
    if textgrid or rttm_out:
        import pyarrow.parquet as pq

        ev = pq.read_table(out / "turns.parquet").to_pylist()
        if textgrid:
            from prosync.streams.textgrid import write_textgrid

            files.append(write_textgrid(textgrid, names, ev, total_s))
        if rttm_out:
            from prosync.streams.rttm import write_rttm

            files.append(write_rttm(rttm_out, Path(sources[0].path).stem,
                                    [(e["speaker"], e["start_s"], e["end_s"]) for e in ev
                                     if e["kind"] == "ipu"]))
    if report:
        from prosync.report import render

        _release_memory()
        res.report = render(out, summary, names, config=cfg, title=title)
        files.append(res.report)
    return res


def _release_memory() -> None:
    """Hand the engine's freed heap back to the system before the report's figures are drawn
    (glibc keeps it otherwise, and the peak of a long session would grow by the report)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def write_json(path: Path, obj) -> Path:
    """Write ``obj`` as JSON atomically (temporary name, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w") as f:
        f.write(json.dumps(obj, indent=2, allow_nan=False))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path
