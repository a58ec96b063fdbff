"""RTTM diarization files: read the speaker turns of a mono mix, split it, write IPUs back.

An RTTM line (NIST RT-09) is ``SPEAKER <file> <chan> <start_s> <dur_s> <NA> <NA> <name> <NA>
<NA>``; the other NIST record types (``SPKR-INFO``, ``LEXEME``, ``NON-SPEECH``, ``NOSCORE``...) and ``;;``
comments are ignored; any other record type (a misspelt ``SPAEKER``) is an error naming the line.

**How a mono mix is split** (``prosync score mix.wav --rttm mix.rttm``): each of the two speakers'
streams is the mix itself where the RTTM says that speaker talks and digital silence (zeros)
everywhere else (the other speaker's turns, and stretches no RTTM turn covers). Where both
speakers' turns overlap, both streams carry the whole mix: the features of those stretches mix
the two voices, so they are flagged, as ``rttm_overlap`` rows of ``turns.parquet``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.errors import AudioInputError

#: RTTM turns may end this far past the end of the audio (rounding of the diarizer); later is
#: an error (the RTTM probably belongs to another recording).
END_TOLERANCE_S = 0.5


#: The NIST RT-09 record types other than SPEAKER: read past without a word. Any other type is
#: an error, so that a misspelt SPEAKER line does not lose a turn silently.
NIST_TYPES = ("SEGMENT", "NOSCORE", "NO_RT_METADATA", "LEXEME", "NON-LEX", "NON-SPEECH", "FILLER",
              "EDIT", "IP", "SU", "CB", "A/P", "SPKR-INFO")


@dataclass(frozen=True)
class RttmTurn:
    file_id: str
    speaker: str
    start_s: float
    end_s: float


def read_rttm(path: str | Path) -> list[RttmTurn]:
    """Parse the ``SPEAKER`` lines of an RTTM file; a clear error names the bad line."""
    path = Path(path)
    if not path.exists():
        raise AudioInputError(f"{path}: RTTM file not found: check the path given to rttm=")
    try:
        # utf-8-sig: an editor's byte-order mark would otherwise hide the first line
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except (UnicodeDecodeError, OSError) as exc:
        raise AudioInputError(f"{path}: cannot read the RTTM ({exc}): give a plain-text RTTM file") \
            from None
    turns = []
    for no, line in enumerate(text.splitlines(), 1):
        f = line.split()
        if not f or f[0].startswith((";", "#")):
            continue
        kind = f[0].upper()
        if kind in NIST_TYPES:  # a standard record without speaker turns: ignored knowingly
            continue
        if kind != "SPEAKER":
            near = difflib.get_close_matches(kind, ["SPEAKER", *NIST_TYPES], n=1, cutoff=0.6)
            raise AudioInputError(
                f"{path}:{no}: unknown RTTM record type {f[0]!r}"
                + (f" (did you mean {near[0]}?)" if near else "")
                + ": fix the line; turns are SPEAKER lines, and the other NIST types "
                f"({', '.join(NIST_TYPES)}) are ignored")
        if len(f) < 8:
            raise AudioInputError(
                f"{path}:{no}: SPEAKER line has {len(f)} fields, RTTM needs at least 8 "
                "(SPEAKER file chan start dur <NA> <NA> name): fix the line")
        try:
            start, dur = float(f[3]), float(f[4])
        except ValueError:
            raise AudioInputError(f"{path}:{no}: start {f[3]!r} or duration {f[4]!r} is not a "
                                  "number of seconds: fix the line") from None
        if not (math.isfinite(start) and math.isfinite(dur)) or start < 0 or dur < 0:
            raise AudioInputError(f"{path}:{no}: start {f[3]} / duration {f[4]} must be finite and "
                                  ">= 0: fix the line")
        turns.append(RttmTurn(f[1], f[7], start, start + dur))
    if not turns:
        raise AudioInputError(f"{path}: has no SPEAKER lines: give the diarization of the recording "
                              "in RTTM format")
    return turns


def select(turns: Sequence[RttmTurn], path: Path, audio: Path, duration_s: float,
           speakers: Sequence[str] | None = None) -> tuple[tuple[str, str], list[RttmTurn]]:
    """Check the turns against the audio and pick the two speakers.

    ``speakers`` picks two of the RTTM's speaker names (needed when it has more than two).
    Returns the two names (in order of first appearance unless picked) and their turns.
    """
    files = list(dict.fromkeys(t.file_id for t in turns))
    if len(files) > 1:
        if audio.stem in files:
            turns = [t for t in turns if t.file_id == audio.stem]
        else:
            raise AudioInputError(
                f"{path}: covers {len(files)} recordings ({', '.join(files[:5])}) and none is named "
                f"{audio.stem!r}: give an RTTM with only this recording's lines")
    names = list(dict.fromkeys(t.speaker for t in turns))
    if speakers:
        unknown = [s for s in speakers if s not in names]
        if unknown:
            raise AudioInputError(
                f"{path}: names speakers {', '.join(names)}, not {', '.join(unknown)}: "
                "give speakers= with two of the RTTM's names")
        if len(speakers) != 2:
            raise AudioInputError(f"speakers={','.join(speakers)} names {len(speakers)} speaker(s): "
                                  "with rttm= give exactly two of the RTTM's names, e.g. speakers="
                                  + ",".join(names[:2]))
        picked = tuple(speakers)
    elif len(names) == 2:
        picked = tuple(names)
    elif len(names) > 2:
        raise AudioInputError(
            f"{path}: names {len(names)} speakers ({', '.join(names)}): pick two with speakers=, "
            f"e.g. speakers={names[0]},{names[1]}")
    else:
        raise AudioInputError(
            f"{path}: names only one speaker ({names[0]}): synchrony needs two; score the file "
            "without rttm= for one speaker")
    late = [t for t in turns if t.end_s > duration_s + END_TOLERANCE_S]
    if late:
        t = max(late, key=lambda t: t.end_s)
        raise AudioInputError(
            f"{path}: a turn of {t.speaker} ends at {t.end_s:.2f} s, past the end of {audio} "
            f"({duration_s:.2f} s): the RTTM may belong to another recording; check the pairing")
    kept = [t for t in turns if t.speaker in picked]
    return picked, sorted(kept, key=lambda t: (t.start_s, t.end_s))


def intervals(turns: Iterable[RttmTurn], speaker: str, sample_rate: int) -> np.ndarray:
    """Merged ``[start, end)`` sample intervals of one speaker, shape (k, 2), int64."""
    iv = sorted((int(round(t.start_s * sample_rate)), int(round(t.end_s * sample_rate)))
                for t in turns if t.speaker == speaker)
    out: list[list[int]] = []
    for a, b in iv:
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersections of two sorted, merged interval lists, shape (k, 2)."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i, 0], b[j, 0]), min(a[i, 1], b[j, 1])
        if lo < hi:
            out.append((lo, hi))
        if a[i, 1] < b[j, 1]:
            i += 1
        else:
            j += 1
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def gate(block: np.ndarray, pos: int, iv: np.ndarray) -> np.ndarray:
    """``block`` (samples ``pos .. pos+len``) with every sample outside ``iv`` set to zero."""
    n = len(block)
    out = np.zeros_like(block)
    lo = np.searchsorted(iv[:, 1], pos, side="right")
    for a, b in iv[lo:]:
        if a >= pos + n:
            break
        s, e = max(a - pos, 0), min(b - pos, n)
        out[s:e] = block[s:e]
    return out


def write_rttm(path: str | Path, file_id: str, ipus: Iterable[tuple[str, float, float]]) -> Path:
    """Write IPUs ``(speaker, start_s, end_s)`` as RTTM ``SPEAKER`` lines (atomically)."""
    from .atomic import write_text

    path = Path(path)
    fid = file_id.replace(" ", "_") or "session"
    lines = [f"SPEAKER {fid} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk.replace(' ', '_')} <NA> <NA>\n"
             for spk, s, e in sorted(ipus, key=lambda x: (x[1], x[0]))]
    return write_text(path, "".join(lines))
