"""Turn tracker: IPUs, pauses, gaps, overlaps and floor-transfer offsets.

Follows Heldner & Edlund (2010), "Pauses, gaps and overlaps in conversations", J. Phonetics
38:555-568, with the exact rules of ``reference/turns/README.md``:

1. Times are integer milliseconds (the streaming tracker works in 10 ms frames, i.e. multiples
   of 10 ms), so every comparison is exact.
2. IPU (per speaker): merge segments that overlap or touch, then bridge within-speaker silences
   shorter than theta: two IPUs merge when ``next.start - prev.end < theta`` (strictly less).
3. Joint states: the timeline ``[0, duration]`` is cut at every IPU boundary; each piece is
   ``none``, one speaker alone, or ``both``; equal neighbours are merged.
4. A maximal ``none`` interval is ``edge_silence`` when it touches the recording start or end,
   a ``pause`` when the same speaker is alone before and after, a ``gap`` (FTO = +duration) when
   X is alone before and Y != X after, otherwise ``silence_ambiguous``. When X alone is followed
   directly by Y alone (X stops in the very millisecond or frame Y starts), the handover is still a
   floor transfer: a zero-length ``gap`` with FTO 0 (the reference files list no event there; rule 6
   gives every floor change an FTO).
5. A maximal ``both`` interval is ``overlap_between`` (FTO = -duration) when X is alone before and
   Y != X alone after, ``overlap_within`` when the same X is alone before and after, otherwise
   ``overlap_other`` (it starts from or ends in ``none``, or touches a recording edge).

Every event kind above is emitted (``edge_silence``, ``silence_ambiguous`` and ``overlap_other``
included), plus ``ipu`` events. ``TurnEvent.speaker`` is the IPU's speaker for ``ipu``; the
speaker who takes the floor (``speaker_after``) for ``gap`` and ``overlap_between``; the floor
holder for ``pause`` and ``overlap_within``; ``''`` otherwise.

Two implementations share these rules: :func:`turn_events_from_segments` (batch, from segment
lists) and :class:`TurnTracker` (streaming, from 10 ms speech flags). Given the same activity
they give the same events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .config import HOP_S, TurnConfig
from .errors import ProsyncError
from .ipus import SpeakerIpus

#: Frame hop in integer milliseconds.
HOP_MS = int(round(HOP_S * 1000))

_NONE = -1
_BOTH = -2
_EDGE = -3  # the recording start or end: "no state"


@dataclass(frozen=True)
class TurnEvent:
    """One turn-taking event.

    ``kind`` is one of ``ipu``, ``pause``, ``gap``, ``overlap_between``, ``overlap_within``,
    ``overlap_other``, ``silence_ambiguous``, ``edge_silence``. ``start_s``/``end_s`` are session
    times in s (exact multiples of 1 ms). ``fto_s`` is the floor-transfer offset: ``+duration``
    for a gap, ``-duration`` for a between-speaker overlap, NaN otherwise.
    """

    kind: str
    speaker: str
    start_s: float
    end_s: float
    fto_s: float = float("nan")
    speaker_before: str = ""
    speaker_after: str = ""

    @property
    def duration_s(self) -> float:
        return (round(self.end_s * 1000) - round(self.start_s * 1000)) / 1000


def _label_name(lab: int, speakers: Sequence[str]) -> str:
    if lab == _NONE:
        return "none"
    if lab == _BOTH:
        return "both"
    return speakers[lab]


def _classify(before: int, lab: int, after: int, a_ms: int, b_ms: int,
              speakers: Sequence[str]) -> TurnEvent | None:
    """Event for the maximal joint state ``lab`` over ``[a_ms, b_ms)`` (rules 4 and 5)."""
    if lab >= 0:
        return None
    sb = speakers[before] if before >= 0 else ""
    sa = speakers[after] if after >= 0 else ""
    a, b = a_ms / 1000, b_ms / 1000
    dur = (b_ms - a_ms) / 1000
    if lab == _NONE:
        if before == _EDGE or after == _EDGE:
            return TurnEvent("edge_silence", "", a, b, speaker_before=sb, speaker_after=sa)
        if before >= 0 and after >= 0:
            if before == after:
                return TurnEvent("pause", sb, a, b, speaker_before=sb, speaker_after=sa)
            return TurnEvent("gap", sa, a, b, dur, sb, sa)
        return TurnEvent("silence_ambiguous", "", a, b, speaker_before=sb, speaker_after=sa)
    # both speakers
    if before >= 0 and after >= 0:
        if before == after:
            return TurnEvent("overlap_within", sb, a, b, speaker_before=sb, speaker_after=sa)
        return TurnEvent("overlap_between", sa, a, b, -dur, sb, sa)
    return TurnEvent("overlap_other", "", a, b, speaker_before=sb, speaker_after=sa)


class _JointStates:
    """Maximal joint states built from IPU edges in time order; classifies each closed state.

    Holds only the open state, the one before it and the current activity of each speaker.
    """

    def __init__(self, speakers: Sequence[str]):
        self.speakers = tuple(speakers)
        self.active = [False] * len(speakers)
        self.cur = _NONE
        self.cur_start = 0
        self.prev = _EDGE

    def _label(self) -> int:
        on = [i for i, a in enumerate(self.active) if a]
        if not on:
            return _NONE
        return on[0] if len(on) == 1 else _BOTH

    def at(self, t_ms: int, changes, out_events: list, out_states: list | None) -> None:
        """Apply ``changes`` (``(speaker_index, active)`` pairs) at time ``t_ms``."""
        for i, v in changes:
            self.active[i] = v
        lab = self._label()
        if lab == self.cur:
            return
        if t_ms > self.cur_start:
            self._close(t_ms, lab, out_events, out_states)
            self.prev = self.cur
        if self.cur >= 0 and lab >= 0:
            # X alone straight to Y alone: a floor transfer with a zero-length gap (rule 6)
            sb, sa = self.speakers[self.cur], self.speakers[lab]
            out_events.append(TurnEvent("gap", sa, t_ms / 1000, t_ms / 1000, 0.0, sb, sa))
        self.cur = lab
        self.cur_start = t_ms

    def _close(self, t_ms, after, out_events, out_states):
        if out_states is not None:
            out_states.append((self.cur_start / 1000, t_ms / 1000,
                               _label_name(self.cur, self.speakers)))
        ev = _classify(self.prev, self.cur, after, self.cur_start, t_ms, self.speakers)
        if ev is not None:
            out_events.append(ev)

    def end(self, t_ms: int, out_events: list, out_states: list | None) -> None:
        """Close the last state at the recording end ``t_ms``."""
        if t_ms > self.cur_start:
            self._close(t_ms, _EDGE, out_events, out_states)
            self.prev = self.cur
            self.cur_start = t_ms


def _to_ms(x: float) -> int:
    return int(round(float(x) * 1000))


def _ipus_ms(segs, bridge_ms: int, dur_ms: int) -> list[tuple[int, int]]:
    """Rule 2: merge overlapping/touching segments, then bridge silences shorter than theta."""
    iv = sorted((max(0, _to_ms(a)), min(dur_ms, _to_ms(b))) for a, b in segs)
    out: list[list[int]] = []
    for a, b in iv:
        if b <= a:
            continue
        if out and (a - out[-1][1] <= 0 or a - out[-1][1] < bridge_ms):
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def turn_events_from_segments(segments: Mapping[str, Sequence[tuple[float, float]]],
                              duration_s: float, bridge_s: float, min_ipu_s: float = 0.0):
    """Batch turn analysis of reference segments, at integer milliseconds.

    Parameters
    ----------
    segments : mapping of speaker name to a sequence of ``(start_s, end_s)``
        Speech segments of each speaker (any order; may overlap). Clipped to the recording.
    duration_s : float
        Recording length in s: the timeline is ``[0, duration_s]``.
    bridge_s : float
        Theta: within-speaker silences shorter than this are bridged (rule 2).
    min_ipu_s : float
        IPUs (after bridging) shorter than this are dropped (0: the reference rules).

    Returns
    -------
    ipus : list of TurnEvent
        ``kind == "ipu"``, sorted by speaker (in ``segments`` order), then start.
    states : list of (start_s, end_s, state)
        Maximal joint states covering ``[0, duration_s]``; ``state`` is ``"none"``, a speaker
        name or ``"both"``.
    events : list of TurnEvent
        Silences and overlaps in time order (every kind but ``ipu``).
    """
    speakers = tuple(segments)
    dur_ms = _to_ms(duration_s)
    bridge_ms = _to_ms(bridge_s)
    if dur_ms < 0 or bridge_ms < 0:
        raise ProsyncError(f"duration_s={duration_s}, bridge_s={bridge_s}: both must be >= 0")
    min_ms = _to_ms(min_ipu_s)
    per = [[(a, b) for a, b in _ipus_ms(segments[s], bridge_ms, dur_ms) if b - a >= min_ms]
           for s in speakers]
    ipus = [TurnEvent("ipu", s, a / 1000, b / 1000)
            for s, iv in zip(speakers, per, strict=True) for a, b in iv]
    edges: dict[int, list[tuple[int, bool]]] = {}
    for i, iv in enumerate(per):
        for a, b in iv:
            edges.setdefault(a, []).append((i, True))
            edges.setdefault(b, []).append((i, False))
    js = _JointStates(speakers)
    states: list = []
    events: list = []
    for t in sorted(edges):
        if t >= dur_ms:
            break
        js.at(t, edges[t], events, states)
    js.end(dur_ms, events, states)
    return ipus, states, events


class TurnTracker:
    """Streaming turn tracker on 10 ms speech flags of one or two speakers.

    Causal with bounded delay: an IPU is emitted once ``ipu_bridge_s`` of silence followed it,
    and ``onset_lookback_s`` more (a next run may be dated back that far);
    a joint silence is classified once the next IPU has started (and the previous speaker's IPU
    is final); an overlap once it is known who holds the floor after it. Memory is bounded: only
    undecided IPUs, not yet consumed edges and the current joint state are kept.

    Parameters
    ----------
    speakers : tuple of str
        One or two speaker names, in the order of the ``speech`` arrays given to :meth:`update`.
    cfg : TurnConfig
        ``ipu_bridge_s`` is theta (rule 2), rounded to integer ms.
    """

    def __init__(self, speakers: Sequence[str], cfg: TurnConfig):
        self.speakers = tuple(speakers)
        if not 1 <= len(self.speakers) <= 2:  # update() and _advance() read speakers 0 and -1
            raise ProsyncError(f"turn tracking takes one or two speakers, got "
                               f"{len(self.speakers)}: track each pair in its own TurnTracker")
        self.cfg = cfg
        self.bridge_ms = _to_ms(cfg.ipu_bridge_s)
        self._spk = [SpeakerIpus(_frames(self.bridge_ms), _frames(_to_ms(cfg.stretch_bridge_s)),
                                 _frames(_to_ms(cfg.min_ipu_s)), _frames(_to_ms(cfg.min_voiced_s)),
                                 _frames(_to_ms(cfg.onset_lookback_s)),
                                 _frames(_to_ms(cfg.breath_gap_s)))
                     for _ in self.speakers]
        self._joint = _JointStates(self.speakers)
        self._k = 0
        self._closed = False

    @property
    def frames_seen(self) -> int:
        return self._k

    def update(self, k0: int, n: int, speech: Sequence[np.ndarray],
               voiced: Sequence[np.ndarray] | None = None,
               lead: Sequence[np.ndarray] | None = None,
               loud: Sequence[np.ndarray] | None = None) -> list[TurnEvent]:
        """Feed frames ``k0 .. k0+n-1`` (bool flags, one array per speaker); return final events.

        ``voiced`` (optional, one bool array per speaker): the frames that show a voice (the
        VAD's ``speech_evidence``, or the pitch tracker's voicing); an IPU needs
        ``min_voiced_s`` of them among its speech frames. Without it only the minimum length
        applies. ``lead`` (optional, one int array per speaker): the VAD's ``onset_lead``; a
        speech run is dated back by it at its first frame (at most ``onset_lookback_s``).
        ``loud`` (optional, one bool array per speaker): the VAD's ``speech_loud``; a voiceless
        run before a word with none of them, ``breath_gap_s`` apart, is a breath (without it:
        every such run).

        Events come as ``ipu`` events (when final) followed by the joint-state events that
        became decidable, each group in time order.
        """
        if self._closed:
            raise ProsyncError("TurnTracker.update() after flush(): start a new tracker")
        if k0 != self._k:
            raise ProsyncError(f"frames start at k0={k0} but {self._k} was expected: "
                               "feed consecutive frames in order")
        if len(speech) != len(self.speakers):
            raise ProsyncError(f"got {len(speech)} speech arrays for {len(self.speakers)} "
                               "speakers: give one per speaker")
        out: list[TurnEvent] = []
        done: list = []
        for i, (sp, name, flags) in enumerate(zip(self._spk, self.speakers, speech, strict=True)):
            flags = np.asarray(flags, dtype=bool)[:n]
            if flags.shape[0] != n:
                raise ProsyncError(f"speech array of {name!r} has {flags.shape[0]} frames, "
                                   f"expected n={n}")
            sp.update(k0, flags, None if voiced is None else np.asarray(voiced[i], bool)[:n], done,
                      None if lead is None else lead[i], None if loud is None else loud[i])
            if done:
                out.extend(_ipu_event(name, a, b) for a, b in done)
                done.clear()
        k = self._k = k0 + n
        spk = self._spk
        safe = spk[0].horizon(k) if len(spk) == 1 else min(spk[0].horizon(k), spk[1].horizon(k))
        self._advance(safe, out)
        return out

    def flush(self) -> list[TurnEvent]:
        """End of input: the recording ends at the end of the last frame fed."""
        if self._closed:
            return []
        out: list[TurnEvent] = []
        for sp, name in zip(self._spk, self.speakers, strict=True):
            done: list = []
            sp.close(self._k, done)
            out.extend(_ipu_event(name, a, b) for a, b in done)
        self._advance(self._k, out)
        self._joint.end(self._k * HOP_MS, out, None)
        self._closed = True
        return out

    def _advance(self, safe: int, out: list) -> None:
        """Feed every final edge before frame ``safe`` to the joint-state machine, in time order."""
        spk = self._spk
        while True:
            if not (spk[0].edges or spk[-1].edges):  # the common case: no edge waiting
                return
            t = min((sp.edges[0][0] for sp in spk if sp.edges), default=None)
            if t is None or t >= safe:
                return
            changes = []
            for i, sp in enumerate(spk):
                while sp.edges and sp.edges[0][0] == t:
                    changes.append((i, sp.edges.popleft()[1]))
            self._joint.at(t * HOP_MS, changes, out, None)


def _frames(ms: int) -> int:
    """Frames of a length in ms: a gap of g frames is shorter than ``ms`` iff g < this."""
    return -(-ms // HOP_MS)


def _ipu_event(speaker: str, a: int, b: int) -> TurnEvent:
    return TurnEvent("ipu", speaker, a * HOP_MS / 1000, b * HOP_MS / 1000)


def frames_to_segments(flags: np.ndarray, hop_s: float = HOP_S) -> list[tuple[float, float]]:
    """Runs of True in a frame array as ``(start_s, end_s)`` (frame k covers [k, k+1) hops)."""
    f = np.asarray(flags, dtype=np.int8)
    d = np.diff(f, prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(d > 0)
    ends = np.flatnonzero(d < 0)
    hop_ms = int(round(hop_s * 1000))
    return [(int(a) * hop_ms / 1000, int(b) * hop_ms / 1000)
            for a, b in zip(starts, ends, strict=True)]
