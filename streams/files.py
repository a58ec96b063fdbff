"""Audio file sources: read one or two speakers' audio in blocks (memory stays flat).

Accepted layouts: one mono file (one speaker), one stereo file (channel 0 = first speaker,
channel 1 = second), a multichannel file with two channels picked, or two mono files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..engine.errors import AudioInputError

#: Samples per speaker read at a time (about 4 s at 48 kHz).
BLOCK = 1 << 16
#: A file whose data ends before this fraction of the length its header declares is truncated
#: (compressed formats such as MP3 only estimate their length).
TRUNCATED_FRACTION = 0.98


@dataclass
class AudioSource:
    """One speaker's audio: a file and a channel in it."""

    path: Path
    channel: int
    sample_rate: int
    frames: int


def _truncated_wav(f: sf.SoundFile) -> str | None:
    """libsndfile reads a truncated WAV silently (to the end of the data there is): its log says
    ``data : <declared> (should be <present>)``."""
    m = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", f.extra_info or "", re.M)
    if m and int(m.group(1)) > int(m.group(2)) > 0:
        return (f"{f.name}: is truncated: its header declares {int(m.group(1))} bytes of audio but "
                f"only {int(m.group(2))} are there (about {f.frames / f.samplerate:.1f} s): the "
                "copy or recording was cut short; copy or re-export it")
    return None


def _open(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise AudioInputError(f"{path}: file not found: check the path")
    if path.is_dir():
        raise AudioInputError(f"{path}: is a folder, not an audio file: give the file's path")
    if path.stat().st_size == 0:  # libsndfile: "Format not recognised", and the fix said: convert
        raise AudioInputError(f"{path}: is an empty file (0 bytes), no audio: check the recording")
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        msg = str(exc).split("\n")[0]
        raise AudioInputError(
            f"{path}: cannot read as audio ({msg}): convert it to WAV or FLAC (e.g. with sox or ffmpeg)"
        ) from None
    if f.format == "WAV" or f.format == "WAVEX":
        why = _truncated_wav(f)
        if why:
            f.close()
            raise AudioInputError(why)
    return f


def plan_sources(inputs: Sequence[str | Path], channels: Sequence[int] | None = None,
                 n_speakers: int | None = None) -> list[AudioSource]:
    """Check the inputs and return one :class:`AudioSource` per speaker.

    ``channels`` are 1-based channel numbers to pick from a multichannel file (two for two speakers).
    """
    paths = [Path(p) for p in inputs]
    if not 1 <= len(paths) <= 2:
        raise AudioInputError("give one audio file (mono or stereo) or two mono files")
    infos = []
    for p in paths:
        with _open(p) as f:
            infos.append((p, f.channels, f.samplerate, f.frames))
    for p, _ch, sr, nfr in infos:
        if nfr == 0:
            raise AudioInputError(f"{p}: contains no audio samples: check the recording")
        if sr < 8000:
            raise AudioInputError(
                f"{p}: sample rate {sr} Hz is below 8000 Hz: record or convert at 8 kHz or more"
            )
    if len(paths) == 2:
        if channels:
            raise AudioInputError("channels= picks channels of one file: with two files, omit it")
        out = []
        for p, ch, sr, nfr in infos:
            if ch != 1:
                raise AudioInputError(
                    f"{p}: has {ch} channels, but two files must be mono: "
                    "give one stereo file instead, or mix each file down to mono"
                )
            out.append(AudioSource(p, 0, sr, nfr))
        return out
    p, ch, sr, nfr = infos[0]
    if channels:
        picked = [int(c) for c in channels]
        bad = [c for c in picked if not 1 <= c <= ch]
        if bad:
            raise AudioInputError(
                f"{p}: has {ch} channels, so channels={','.join(map(str, picked))} is out of "
                f"range: use channel numbers 1 to {ch}"
            )
        if len(set(picked)) != len(picked):
            raise AudioInputError("channels= names the same channel twice: pick distinct channels")
        return [AudioSource(p, c - 1, sr, nfr) for c in picked]
    if ch == 1:
        if n_speakers == 2:
            raise AudioInputError(
                f"{p}: is mono but two speakers are needed: give a stereo file, two mono files, "
                "or the mono mix with rttm=FILE"
            )
        return [AudioSource(p, 0, sr, nfr)]
    if ch == 2:
        return [AudioSource(p, 0, sr, nfr), AudioSource(p, 1, sr, nfr)]
    raise AudioInputError(
        f"{p}: has {ch} channels: pick the two speakers' channels with channels=, e.g. channels=1,2"
    )


def read_blocks(sources: Sequence[AudioSource], block: int = BLOCK
                ) -> Iterator[list[np.ndarray]]:
    """Yield lists of float32 blocks, one per source, of equal duration until every file ends.

    A source that ends earlier yields empty blocks from then on (the session pads it with silence).
    A file whose data ends well before the length its header declares raises
    :class:`AudioInputError` (truncated).
    Non-finite samples raise :class:`AudioInputError` naming the file and time.
    """
    files: dict[Path, sf.SoundFile] = {}
    try:
        for s in sources:
            if s.path not in files:
                files[s.path] = _open(s.path)
        pos = 0
        pos_of: dict[Path, int] = {}
        ends: dict[Path, int] = {}
        while True:
            chunks: dict[Path, np.ndarray] = {}
            for path, f in files.items():
                sr = f.samplerate
                want = int(round(block * sr / sources[0].sample_rate))
                try:
                    chunks[path] = f.read(want, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    raise AudioInputError(
                        f"{path}: read failed after {pos / sources[0].sample_rate:.1f} s "
                        f"({str(exc).splitlines()[0]}): the file may be truncated; re-export it"
                    ) from None
            for path, f in files.items():
                if len(chunks[path]) == 0 and f.frames > 0:
                    got = ends.setdefault(path, pos_of.get(path, 0))  # 0: not one sample read
                    if got < TRUNCATED_FRACTION * f.frames:
                        raise AudioInputError(
                            f"{path}: audio ends at {got / f.samplerate:.1f} s ({got} samples) but "
                            f"its header declares {f.frames / f.samplerate:.1f} s ({f.frames}): the "
                            "file is truncated; "
                            "copy or re-export it")
                pos_of[path] = pos_of.get(path, 0) + len(chunks[path])
            out = []
            for s in sources:
                data = chunks[s.path][:, s.channel]
                if data.size and not np.isfinite(data).all():
                    bad = int(np.flatnonzero(~np.isfinite(data))[0])
                    t = (pos + bad) / s.sample_rate
                    raise AudioInputError(
                        f"{s.path}: NaN or Inf sample at {t:.3f} s: the file is corrupt; "
                        "re-export it, or replace non-finite samples with 0"
                    )
                out.append(np.ascontiguousarray(data))
            if all(len(d) == 0 for d in out):
                return
            pos += max(len(d) for d in out)
            yield out
    finally:
        for f in files.values():
            f.close()


class FileSource:
    """A recorded session as a source of :func:`prosync.engine.loop.run_session`: one file (mono:
    one speaker; stereo: two), two mono files, or one mono mix split by its RTTM.

    Checks everything before any audio is read (raises :class:`AudioInputError` naming the
    problem and the fix). ``speakers``: the names (default ``a``/``b``; with ``rttm`` two of its
    speakers, default the two who speak most); ``channels``: 1-based channels of a multichannel
    file. Two files of different lengths: the shorter is padded with silence (a warning says so).
    """

    def __init__(self, inputs: Sequence[str | Path], *, speakers: Sequence[str] | None = None,
                 channels: Sequence[int] | None = None, rttm: str | Path | None = None,
                 block: int = BLOCK):
        self.sources, self.speakers, self.split = _plan(inputs, speakers, channels, rttm)
        src = self.sources
        sr = self.sample_rate = src[0].sample_rate
        if any(s.sample_rate != sr for s in src):
            raise AudioInputError(
                f"{src[0].path} and {src[1].path} have different sample rates "
                f"({sr} and {src[1].sample_rate} Hz): convert one so they match")
        self.warnings: list[str] = []
        if len(src) == 2 and src[0].path != src[1].path and abs(src[0].frames - src[1].frames) > sr // 100:
            short, long_ = sorted(src, key=lambda s: s.frames)
            self.warnings.append(
                f"{short.path} ({short.frames / sr:.2f} s) is shorter than {long_.path} "
                f"({long_.frames / sr:.2f} s): padded with silence to {long_.frames / sr:.2f} s")
        self.total_s = max(s.frames for s in src) / sr
        self.block = block

    @property
    def paths(self) -> list[Path]:
        """The input files (the mix once for an RTTM split)."""
        return [s.path for s in self.sources[: 1 if self.split else 2]]

    def blocks(self) -> Iterator[list[np.ndarray]]:
        if self.split is None:
            yield from read_blocks(self.sources, self.block)
            return
        from .rttm import gate

        done = 0
        for blocks in read_blocks(self.sources, self.block):
            yield [gate(b, done, iv) if len(b) else b
                   for b, iv in zip(blocks, self.split["intervals"])]
            done += max(len(b) for b in blocks)

    def describe(self) -> list[AudioSource]:
        return self.sources[:1] if self.split else self.sources

    def tail(self):
        """The RTTM's overlapped stretches as ``rttm_overlap`` turn rows."""
        if not self.split or not len(self.split["overlaps"]):
            return None
        from ..engine.session import Update
        from ..engine.turns import TurnEvent

        sr = self.sample_rate
        return Update(events=[TurnEvent("rttm_overlap", "+".join(self.speakers), round(a / sr, 3),
                                        round(b / sr, 3)) for a, b in self.split["overlaps"]])

    def summary_extra(self) -> dict:
        """``inputs`` (each file's path, duration, rate, channels) and the RTTM split's figures."""
        from ..engine.summary import input_files

        extra = {"inputs": input_files(self.describe())}
        if not self.split:
            return extra
        ov = self.split["overlaps"]
        return {**extra, "rttm": {"file": str(self.split["path"]), "overlaps": int(len(ov)),
                         "overlap_s": round(float((ov[:, 1] - ov[:, 0]).sum()) / self.sample_rate,
                                            3)}}


def _plan(inputs, speakers, channels, rttm):
    """Sources (one per speaker), speaker names, and the RTTM split (or None)."""
    if rttm is None:
        sources = plan_sources(inputs, channels, n_speakers=len(speakers) if speakers else None)
        if len(sources) > 2:  # only --channels picks more: the speakers' names are not at fault
            raise AudioInputError(f"channels={','.join(map(str, channels))} picks {len(sources)} "
                                  "channels, but a session has one or two speakers: pick one "
                                  "channel per speaker")
        names = tuple(speakers) if speakers else ("a", "b")[: len(sources)]
        if len(names) != len(sources):
            raise AudioInputError(
                f"speakers={','.join(names)} names {len(names)} speaker(s) but the input has {len(sources)} "
                "speaker channel(s): give one name per channel"
            )
        return sources, names, None
    from . import rttm as R

    if len(inputs) != 1:
        raise AudioInputError("rttm= splits one mono mix: give one audio file with it, not "
                              f"{len(inputs)}")
    if channels and len(channels) != 1:
        raise AudioInputError("rttm= splits one channel: give channels= with one channel number")
    src = plan_sources(inputs, channels)
    if len(src) != 1:
        raise AudioInputError(
            f"{src[0].path}: has {len(src)} channels, but rttm= splits a mono mix: pick the mix's "
            "channel with channels=N, or drop rttm= for a stereo file (one speaker per channel)")
    s = src[0]
    names, turns = R.select(R.read_rttm(rttm), Path(rttm), s.path, s.frames / s.sample_rate, speakers)
    iv = [R.intervals(turns, n, s.sample_rate) for n in names]
    split = {"path": Path(rttm), "intervals": iv, "overlaps": R.overlaps(iv[0], iv[1])}
    return [s, AudioSource(s.path, s.channel, s.sample_rate, s.frames)], tuple(names), split
