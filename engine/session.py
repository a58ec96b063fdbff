"""The streaming core: audio blocks in, per-frame features and turn events out.

The same audio pushed in any block sizes gives bit-identical results: every feature is computed
on fixed 10 ms frames of the 16 kHz stream, and a frame is emitted only once all the audio it
depends on (its look-ahead) has arrived, so every emitted value is final.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..calibration.baseline import SpeakerBaseline
from ..native.frames import all_finite
from .config import Config
from .endofturn import EOT_EMPTY, EndOfTurnTracker, TurnEndEvent
from .errors import ProsyncError
from .join import CrossTalk, Pending, silent_frames
from .pacing import PacingRow, PacingTracker
from .session_sync import SessionSyncRow
from .speaker import SpeakerTrack, resampler_delay_s
from .synchrony import SERIES_FIELDS, SynchronyTracker, SyncRow
from .turns import TurnEvent, TurnTracker


@dataclass
class Update:
    """What one :meth:`Session.push` produced.

    ``frames[speaker]`` is a record array (dtype :data:`prosync.engine.speaker.FRAME_DTYPE`:
    ``t_s``, ``f0_hz``, ``voiced``, ...), one row per newly final 10 ms frame, so
    ``frames["a"]["f0_hz"]`` is the column; ``events`` are newly final turn events.

    Missing values are NaN (floats) and ``''`` (speaker names) here; the sinks turn them into
    Arrow and JSON nulls (:mod:`prosync.streams.arrow`). Times are exact milliseconds.
    """

    frames: dict[str, np.ndarray] = field(default_factory=dict)
    events: list[TurnEvent] = field(default_factory=list)
    synchrony: list[SyncRow] = field(default_factory=list)
    pacing: list[PacingRow] = field(default_factory=list)
    #: The speaker-relative series the synchrony uses, per speaker: 100 ms bins (``t_s`` = bin
    #: end, ``f0`` semitones re the speaker's median, ``energy`` dB re their speech level,
    #: ``rate`` syl/s, ``vad`` speech fraction; NaN = missing), for two-speaker sessions.
    series: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: Compute time of the push (or close) that made this update, in seconds (wall clock of
    #: the engine's work; for merged updates the sum of their pushes).
    compute_s: float = 0.0
    #: One row per 10 ms frame of the user's (speaker 0) silence after speech, for up to
    #: ``end_of_turn.horizon_s`` (dtype :data:`prosync.engine.endofturn.EOT_DTYPE`: ``t_s``,
    #: ``silence_s``, ``turn_end_prob``), for two-speaker sessions.
    end_of_turn: np.ndarray = field(default_factory=lambda: EOT_EMPTY)
    #: ``turn_end`` events: ``turn_end_prob`` reached ``end_of_turn.threshold``.
    turn_end: list[TurnEndEvent] = field(default_factory=list)
    #: The session-level synchrony test per feature, when one finished (live doors only:
    #: ``Duplex(session_test_every_s=...)``; :class:`~prosync.engine.session_sync.SessionSyncRow`).
    session_sync: list[SessionSyncRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.synchrony or self.pacing or self.turn_end
                    or self.session_sync
                    or len(self.end_of_turn)) or any(
            len(c) for c in self.frames.values())


class Session:
    """A conversation between one or two speakers, analysed as audio arrives.

    Parameters
    ----------
    speakers : sequence of str
        One or two speaker names (default ``("a", "b")``).
    sample_rate : int
        Rate of the audio that will be pushed (any rate >= 8000 Hz; resampled to 16 kHz: resample.py).
    config : Config, optional
    preset : {"live", "research"}, optional
        Named synchrony settings (:data:`prosync.engine.config.SYNC_PRESETS`), instead of
        ``config.sync``; default ``"live"``.
    two_mics : bool
        The speakers are on separate microphones that may hear each other: a channel's speech is
        dropped where it is only the other speaker's bleed.
    synchrony : bool
        Two speakers: compute the synchrony windows, series and pacing advice (default). Off:
        frames and turn events only (the per-speaker core and the turn tracker).
    warm : bool
        Load every numba kernel before the first push (once per process, see
        :func:`prosync.engine.warm.warm`), so the first push does not wait for the JIT cache.

    Thread-safety: :meth:`push` and :meth:`close` take an internal lock, so one producer thread
    per speaker may push concurrently; results are the same as pushing in any interleaving.
    """

    def __init__(self, speakers: Sequence[str] = ("a", "b"), sample_rate: int = 16000,
                 config: Config | None = None, two_mics: bool = True,
                 on_update: Callable[[Update], None] | None = None,
                 profile: dict[str, SpeakerBaseline] | None = None, preset: str | None = None,
                 *, synchrony: bool = True, warm: bool = True):
        speakers = tuple(str(s) for s in speakers)
        if not 1 <= len(speakers) <= 2 or len(set(speakers)) != len(speakers):
            raise ProsyncError(f"speakers={','.join(speakers)} is invalid: give one or two distinct "
                               "names")
        if int(sample_rate) < 8000:
            raise ProsyncError(
                f"sample rate {sample_rate} Hz is too low: prosync needs at least 8000 Hz"
            )
        self.config = (config or Config()).with_preset(preset).validate()
        if warm:
            from .warm import warm as _warm

            _warm(Session)
        self.speakers = speakers
        self.sample_rate = int(sample_rate)
        self.two_mics = two_mics
        self._tracks = [SpeakerTrack(self.config, self.sample_rate) for _ in speakers]
        self._xtalk = CrossTalk(self.config.vad) if len(speakers) == 2 and two_mics else None
        self._pending = [Pending(keep_pcm=self._xtalk is not None) for _ in speakers]
        self._emit = [self._collector(i) for i in range(len(speakers))]
        self._turns = TurnTracker(speakers, self.config.turns)
        profile = profile or {}
        #: Per-speaker baselines (warm from ``profile`` for returning speakers).
        self.baselines = {s: profile.get(s) or SpeakerBaseline() for s in speakers}
        bl = [self.baselines[s] for s in speakers]
        self._sync = self._pacing = self._eot = None
        if len(speakers) == 2:
            self._eot = EndOfTurnTracker(self.config.end_of_turn, bl[0],
                                         self.config.turns.ipu_bridge_s)
        #: Joined frames of each speaker not binned yet.
        self._unbinned = [Pending(cap=64) for _ in speakers]
        #: Synchrony and pacing work in time order (see :meth:`_run_tasks`).
        self._tasks: deque = deque()
        self.synchrony = bool(synchrony) and len(speakers) == 2
        if self.synchrony:
            self._sync = SynchronyTracker(self.config.sync, bl)
            self._pacing = PacingTracker(self.config.pacing, self.config.sync.rate_hz, bl,
                                         speakers, self.turn_lookahead_s)
        self._lock = threading.Lock()
        self._on_update = on_update
        self.closed = False

    @property
    def lookahead_s(self) -> float:
        """Audio needed after a frame's centre before its features are final, at most: at another
        rate than 16 kHz this includes :attr:`resampler_hold_s`."""
        return self._tracks[0].lookahead_s

    @property
    def resampler_hold_s(self) -> float:
        """The most input time the resampler holds back (0 at 16 kHz, 4 ms at 8, 11.025, 22.05,
        24, 32, 44.1, 48 and 96 kHz: :mod:`~prosync.engine.resample`). soxr, left for odd
        rates, releases samples in chunks of its own (40 ms at 44,056 Hz), so there a frame is
        often final sooner than :attr:`lookahead_s` says."""
        return resampler_delay_s(self.sample_rate)

    @property
    def turn_lookahead_s(self) -> float:
        """Extra delay of turn events: an IPU ends only after ``ipu_bridge_s`` of silence, and
        after ``onset_lookback_s`` more (a next run may be dated back that far)."""
        return self.config.turns.ipu_bridge_s + self.config.turns.onset_lookback_s

    def session_synchrony(self) -> dict:
        """The session-level synchrony test of each feature over the session so far
        (:meth:`~prosync.engine.synchrony.SynchronyTracker.session_test`: the p-value beside the
        effect, or why there is none); empty with one speaker. Costs about 0.1 s per feature
        for 5 minutes: call it at the end or every few seconds."""
        return self._sync.session_test() if self._sync is not None else {}

    def synchrony_series(self, feature: str):
        """``(a, b, raw_a, raw_b)``: the two speakers' series of ``feature`` over the session
        so far and each before the hold (None for ``vad``), as the session test reads them."""
        if self._sync is None:
            raise ProsyncError("synchrony needs two speakers")
        return self._sync.session_series(feature)

    def turn_end_prob(self) -> float:
        """The user's latest end-of-turn probability (NaN while they speak, before they first
        spoke, or in one-speaker sessions; past ``horizon_s`` of silence it keeps its last value)."""
        return self._eot.latest_prob if self._eot is not None else float("nan")

    def end_of_turn_state(self) -> tuple[bool, float] | None:
        """``(turn_end fired in the user's current silence, that silence so far in s)``;
        ``(False, 0.0)`` while the user speaks; None in one-speaker sessions."""
        return self._eot.state() if self._eot is not None else None

    def pacing(self) -> PacingRow | None:
        """The latest pacing advice (``None`` before the first 100 ms of both speakers)."""
        return self._pacing.latest if self._pacing is not None else None

    def _index(self, speaker) -> int:
        if isinstance(speaker, (int, np.integer)) and 0 <= speaker < len(self.speakers):
            return int(speaker)
        try:
            return self.speakers.index(str(speaker))
        except ValueError:
            raise ProsyncError(
                f"unknown speaker {speaker!r}: this session has {', '.join(self.speakers)}"
            ) from None

    def push(self, speaker, samples) -> Update:
        """Add audio of one speaker and return the frames and turn events that became final.

        ``samples``: 1-D int16 (PCM) or float (full scale 1.0) array at ``sample_rate``.
        """
        t0 = time.perf_counter()
        i = self._index(speaker)
        x = _as_float32(samples)
        with self._lock:
            if self.closed:
                raise ProsyncError("push() after close(): start a new Session")
            self._tracks[i].feed(x, self._emit[i])
            return self._join(final=False, t0=t0)

    def close(self) -> Update:
        """End of input for every speaker: finish the last frames and turn events."""
        t0 = time.perf_counter()
        with self._lock:
            if self.closed:
                return Update()
            for i, tr in enumerate(self._tracks):
                tr.flush(self._emit[i])
            self.closed = True
            return self._join(final=True, t0=t0)

    def _collector(self, i):
        add = self._pending[i].add
        track = self._tracks[i]

        def emit(k0, n, out):  # noqa: ARG001
            add(n, out, track.hop_pcm)

        return emit

    def _join(self, final: bool, t0: float) -> Update:
        pend = self._pending
        n = pend[0].n if len(pend) == 1 else min(pend[0].n, pend[1].n)
        if n == 0 and not final:
            # nothing joined (e.g. the first speaker's push of a hop): no frame, event or task
            # can be due that was not due at the last push
            upd = Update()
            upd.compute_s = time.perf_counter() - t0
            return upd
        upd = Update()
        if final:
            # a speaker with less audio: its missing frames are silence
            n_max = max(p.n for p in self._pending)
            for p in self._pending:
                if p.n < n_max:
                    p.add(n_max - p.n, silent_frames(p.k0 + p.n, n_max - p.n))
            n = n_max
        if n > 0:
            k0 = self._pending[0].k0
            cols = [p.take(n) for p in self._pending]
            if self._xtalk is not None:
                pa, pb = self._pending
                self._xtalk.apply(cols[0], cols[1], pa.taken_pcm, pb.taken_pcm, n)
            for spk, c in zip(self.speakers, cols):
                upd.frames[spk] = c
            upd.events.extend(self._turns.update(k0, n, [c["speech_raw"] for c in cols],
                                                 [c["speech_evidence"] for c in cols],
                                                 [c["onset_lead"] for c in cols],
                                                 [c["speech_loud"] for c in cols]))
            if self._eot is not None:
                upd.end_of_turn, upd.turn_end = self._eot.update(cols[0], cols[1], n)
        if final:
            upd.events.extend(self._turns.flush())
        if self._sync is not None:
            if upd.events:  # applied by time inside the tracker: adding them early is safe
                self._pacing.add_events(upd.events)
            if n > 0:
                self._queue_bins(cols, k0 + n)
            if final:
                self._tasks.append((0, self._flush_task, None))
            self._run_tasks(upd, None if final else self._pending[0].k0)
        elif n > 0:  # no synchrony tracker: the baselines learn from the frames directly
            for spk, c in zip(self.speakers, cols):
                self.baselines[spk].add_frames(c)
        upd.compute_s = time.perf_counter() - t0
        if self._on_update is not None and upd:
            self._on_update(upd)
        return upd

    # Synchrony and pacing run as a queue of tasks, eight per 100 ms bin: binning each speaker's
    # frames (due when the bin's last frame is joined, and one frame later), the synchrony's
    # history (two frames later), its streaming WCC of two features and of the other two
    # (three and four frames later), its surrogate refresh and its window rows (five and six
    # frames later) and the pacing (seven frames later). A push runs the tasks that are due by
    # the frames joined so far, so a stream of 10 ms pushes spreads a bin's work over eight
    # hops instead of paying for it in one, and what comes out by a given frame does not
    # depend on push sizes. Values are those of running everything at once: the tasks keep
    # their order, and turn events reach the pacing by their own time.
    def _queue_bins(self, cols, joined: int) -> None:
        per = self._sync.per_bin
        n = len(cols[0])
        ua, ub = self._unbinned
        ua.add(n, cols[0])
        ub.add(n, cols[1])
        m = ua.n
        if m < per:
            return
        whole = m - m % per
        a, b = ua.take(whole), ub.take(whole)
        start = joined - m  # frames joined before the first unbinned one
        # bins whose tasks are all due already (a push that covers several bins) are done as
        # one batch: fewer calls for offline scoring, the same values and output
        ready = max(0, min(whole, joined - 7 - start) // per * per)
        spans = ([(0, ready)] if ready else []) + [(lo, lo + per) for lo in range(ready, whole, per)]
        for lo, hi in spans:
            end = start + hi
            held: list = []  # the two speakers' bins, then the span of the streaming WCC
            self._tasks.extend(((end, self._bin_task, (0, a[lo:hi], held)),
                                (end + 1, self._bin_task, (1, b[lo:hi], held)),
                                (end + 2, self._sync_series_task, held),
                                (end + 3, self._sync_wcc_task, (held, (0, 1))),
                                (end + 4, self._sync_wcc_task, (held, (2, 3))),
                                (end + 5, self._sync_settle_task, (held, 0)),
                                (end + 6, self._sync_settle_task, (held, 1)),
                                (end + 7, self._pacing_task, held)))

    def _run_tasks(self, upd: Update, joined: int | None) -> None:
        """Run the queued tasks due by ``joined`` frames (all of them when None)."""
        tasks = self._tasks
        while tasks and (joined is None or tasks[0][0] <= joined):
            _, fn, arg = tasks.popleft()
            fn(arg, upd)

    def _bin_task(self, arg, upd: Update) -> None:
        s, fr, held = arg
        held.append(self._sync.bin_one(s, fr))
        if s == 1 and len(held[1]["t_s"]):  # both speakers' bins: their series
            series = {spk: {k: v[k] for k in SERIES_FIELDS} for spk, v in zip(self.speakers, held)}
            if upd.series:  # more than one bin in this push: concatenate
                series = {spk: {k: np.concatenate([upd.series[spk][k], c]) for k, c in v.items()}
                          for spk, v in series.items()}
            upd.series = series

    def _sync_series_task(self, held, upd: Update) -> None:  # noqa: ARG002 - a task's signature
        held.append(self._sync.push_series(held[:2]))

    def _sync_wcc_task(self, arg, upd: Update) -> None:  # noqa: ARG002
        held, features = arg
        self._sync.push_wcc(held[:2], features)

    def _sync_settle_task(self, arg, upd: Update) -> None:
        held, part = arg
        n0, n1 = held[2]
        if n1 - n0 == 1:  # one bin: its surrogate refresh (part 0), then its rows (part 1)
            if part == 0:
                self._sync.refresh(n1)
            else:
                upd.synchrony.extend(self._sync.rows_due(n1))
        elif part == 0:  # several bins at once (offline blocks): bin by bin, in one task
            upd.synchrony.extend(self._sync.settle(n0, n1))

    def _pacing_task(self, held, upd: Update) -> None:
        upd.pacing.extend(self._pacing.update(held[:2]))

    def _flush_task(self, _arg, upd: Update) -> None:
        upd.synchrony.extend(self._sync.flush())


def _as_float32(samples) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ProsyncError(f"audio block has shape {x.shape}: push one speaker's mono samples (1-D)")
    if x.dtype == np.int16:
        return x.astype(np.float32) / np.float32(32768.0)
    if x.dtype.kind not in "fiu":
        raise ProsyncError(f"audio block of dtype {x.dtype}: push int16 PCM or float samples")
    x = x.astype(np.float32, copy=False)
    if not all_finite(x):
        raise ProsyncError(
            "audio block contains NaN or Inf samples: replace them (e.g. np.nan_to_num) before pushing"
        )
    return x
