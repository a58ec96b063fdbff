"""Pacing: how the agent's voice differs from the user's, and advice for the agent's next reply.

Speaker 0 of the session is the *user*, speaker 1 the *agent* (for two humans: how the second
speaker paces relative to the first). Everything is computed at the synchrony rate (10 Hz) from
the binned series and the speakers' baselines; each row is final when emitted.

Mismatch (agent minus user, measured):

* ``rate_ratio``: agent's recent speech rate / user's;
* ``gap_mismatch_s``: the agent's median reply delay (its floor-transfer offsets) minus the
  user's own median FTO;
* ``loudness_mismatch_db``: agent's speech level minus the user's;
* ``f0_level_mismatch_st``, ``f0_range_mismatch_st``: median and 5-95 % range of F0, semitones.

Advice for the agent's next reply (signed, bounded by :class:`~prosync.engine.config.PacingConfig`):

* ``reply_delay_ms``: the user's own typical gap (median FTO when they take the floor, 50 ms
  histogram bins; floors taken after more than ``max_reply_delay_ms`` are lapses and do not
  count), moved from the prior ``default_reply_delay_ms`` (250 ms: the typical gap across
  languages: Stivers et al. 2009, PNAS 106:10587, mean offsets 7-469 ms by language, English
  236 ms) by its confidence (floor transfers seen / 3), bounded to ``[min_reply_delay_ms,
  max_reply_delay_ms]`` (:func:`gap_delay_ms`). An agent replies when
  ``turn_end`` has fired in the user's silence *and* the silence has reached this delay
  (:meth:`prosync.agent.AgentSession.reply_go`): the end-of-turn signal decides *whether*, the
  user's own gap *when*. It used to be lengthened by up to 600 ms when the user seemed to
  hesitate; on the end-of-turn bench (``bench/bench_end_of_turn.py``, "Replies at prosync's
  advice") that changed no false interruption nor latency once ``turn_end`` gates the reply,
  and in ``examples/agent_loop.py`` it made later replies wait ~150-250 ms longer than the
  user's own gaps, so it no longer moves the delay;
* ``hesitation`` (reported, not applied): ``0.5 * min(1, pauses / 2 s) + 0.25 * min(1, -energy
  / 6 dB) + 0.25 * min(1, (1 - rate / baseline rate) / 0.3)``, over the user's within-turn
  pauses of at least 0.4 s ended in the last 10 s, their energy re their speech level (2 s
  average) and their rate re their typical rate, times the confidence of the user's level/rate
  baselines (speech seen / 5 s);
* ``target_rate_sps``: converge toward the user's rate with a 10 % dead band (the
  just-noticeable difference of tempo): the agent's own rate clipped to ``[0.9, 1.1] x`` the
  user's (user 4 syl/s, agent 5: 4.4; agent 4.2: unchanged 4.2; no agent rate yet: the user's);
  no advice (NaN: the agent keeps its own rate) before 1 s of the user's speech, and the
  user's rate counts as at least 2 syl/s;
* ``loudness_offset_db``: user's speech level minus the agent's, **positive: the agent should
  speak louder**; 0 inside a 2 dB dead band, clipped to ±6 dB;
* ``f0_offset_st``: the user's current pitch excursion from their own median (2 s average),
  **positive: the user is above their usual pitch**; an agent mirrors it relative to *its*
  baseline (not the user's absolute pitch); clipped to ±4 st;
* ``user_speaking`` and a confidence 0..1 for each item (how settled the baselines behind it are:
  frames seen / frames needed, floor transfers seen / 3); ``warming_up`` until both speakers'
  F0 (3 s voiced) and level/rate (5 s of speech) baselines have settled or came from a profile.

Rates are 10 s exponential averages of each speaker's binned rate. Gap timing needs turn
events: an event is applied at the first bin after it must be final, so rows do not depend on
push sizes.

The advice converges toward the user; it does not maximise synchrony, whose benefit is not
established (see the README).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..calibration.baseline import MIN_FTO, MIN_SPEECH, MIN_VOICED
from .config import PacingConfig

#: Hesitation: user pauses at least this long (s) within the last HESITATION_WINDOW_S count.
LONG_PAUSE_S = 0.4
HESITATION_WINDOW_S = 10.0
#: Rate advice needs this many frames of the user's speech (1 s; the rate itself is missing
#: before that); the user's rate is taken as at least MIN_RATE_SPS (few nuclei found).
MIN_RATE_SPEECH = 100
MIN_RATE_SPS = 2.0


_AGENT_KEYS = ("rate", "base_level_db", "base_f0_st", "base_f0_range_st", "n_voiced", "n_speech")
_USER_KEYS = _AGENT_KEYS + ("t_s", "energy", "f0", "vad", "base_rate_sps")


@dataclass(frozen=True)
class PacingRow:
    t_s: float
    user_speaking: bool
    rate_ratio: float
    gap_mismatch_s: float
    loudness_mismatch_db: float
    f0_level_mismatch_st: float
    f0_range_mismatch_st: float
    reply_delay_ms: float
    target_rate_sps: float
    loudness_offset_db: float
    f0_offset_st: float
    hesitation: float
    conf_reply_delay: float
    conf_rate: float
    conf_loudness: float
    conf_f0: float
    warming_up: bool


def gap_delay_ms(cfg: PacingConfig, fto_median_s: float, n_fto: int) -> float:
    """The user's typical gap (their median floor-transfer offset, s, over ``n_fto`` floor
    transfers), moved from ``cfg.default_reply_delay_ms`` by its confidence (``n_fto`` / 3) and
    bounded to ``[min_reply_delay_ms, max_reply_delay_ms]`` (ms)."""
    base = cfg.default_reply_delay_ms
    if math.isfinite(fto_median_s):
        base += min(1.0, n_fto / MIN_FTO) * (fto_median_s * 1000.0 - base)
    return min(max(base, cfg.min_reply_delay_ms), cfg.max_reply_delay_ms)


def _nan(x):
    return float(x) if x is not None and math.isfinite(x) else float("nan")


class PacingTracker:
    """Advice from the binned series of both speakers, their baselines and recent pauses."""

    def __init__(self, cfg: PacingConfig, rate_hz: float, baselines, speakers, settle_s: float):
        self.cfg = cfg
        self.speakers = tuple(speakers)
        self.settle_s = settle_s + 0.05
        self._queue: list = []
        self.rate_hz = rate_hz
        self.baselines = baselines
        # exponential averages over bins: rate (10 s), energy and F0 excursion (2 s)
        self._a_slow = 1.0 / (10.0 * rate_hz)
        self._a_fast = 1.0 / (2.0 * rate_hz)
        self._rate = [float("nan"), float("nan")]
        self._energy_u = float("nan")
        self._f0_u = float("nan")
        self._pauses: list[tuple[float, float]] = []  # (end_s, duration_s) of user pauses
        self.latest: PacingRow | None = None

    def add_events(self, events) -> None:
        """Queue turn events; each is applied at the first bin after it must have been final
        (its end + the turn tracker's delay, :attr:`Session.turn_lookahead_s`, + 50 ms), so
        results do not depend on push sizes."""
        for e in events:
            if math.isfinite(e.fto_s) or e.kind == "pause":
                self._queue.append((float(e.end_s) + self.settle_s, e))
        self._queue.sort(key=lambda q: q[0])

    def _apply_events(self, t):
        while self._queue and self._queue[0][0] <= t:
            _, e = self._queue.pop(0)
            # a floor taken after more than max_reply_delay_ms is a lapse, not a gap (Sacks,
            # Schegloff & Jefferson 1974): it says nothing about how fast this person answers
            if (math.isfinite(e.fto_s) and e.speaker_after in self.speakers
                    and e.fto_s * 1000.0 <= self.cfg.max_reply_delay_ms):
                self.baselines[self.speakers.index(e.speaker_after)].add_fto(e.fto_s)
            if e.kind == "pause" and e.speaker_before == self.speakers[0]:
                self._pauses.append((float(e.end_s), float(e.end_s - e.start_s)))
                del self._pauses[:-32]

    def update(self, bins) -> list[PacingRow]:
        """``bins``: the two speakers' binned series (from :meth:`SynchronyTracker.bin`)."""
        n = len(bins[0]["vad"])
        if n == 0:
            return []
        u = {k: bins[0][k].tolist() for k in _USER_KEYS}
        g = {k: bins[1][k].tolist() for k in _AGENT_KEYS}
        rows = []
        for i in range(n):  # 10 Hz: a handful of scalar updates per 100 ms
            t = u["t_s"][i]
            self._apply_events(t)
            for s, b in ((0, u), (1, g)):
                r = b["rate"][i]
                if math.isfinite(r):
                    old = self._rate[s]
                    self._rate[s] = r if not math.isfinite(old) else old + self._a_slow * (r - old)
            e = u["energy"][i]
            if math.isfinite(e):
                old = self._energy_u
                self._energy_u = e if not math.isfinite(old) else old + self._a_fast * (e - old)
            f = u["f0"][i]
            if math.isfinite(f):
                old = self._f0_u
                self._f0_u = f if not math.isfinite(old) else old + self._a_fast * (f - old)
            rows.append(self._row(t, i, u, g))
        if rows:
            self.latest = rows[-1]
        return rows

    def _row(self, t, i, u, g) -> PacingRow:
        c = self.cfg
        ru, rg = self._rate
        fto_u = self.baselines[0].fto_median_s
        fto_g = self.baselines[1].fto_median_s
        base_rate_u = u["base_rate_sps"][i]
        # hesitation: long pauses in the user's recent turn, energy and rate below baseline
        h_pause = min(1.0, sum(d for end, d in self._pauses
                               if t - end < HESITATION_WINDOW_S and d >= LONG_PAUSE_S) / 2.0)
        eu = self._energy_u
        h_energy = min(1.0, max(0.0, -eu / 6.0)) if math.isfinite(eu) else 0.0
        h_rate = 0.0
        if math.isfinite(ru) and math.isfinite(base_rate_u) and base_rate_u > 0:
            h_rate = min(1.0, max(0.0, (1.0 - ru / base_rate_u) / 0.3))
        nv_u, ns_u = u["n_voiced"][i], u["n_speech"][i]
        conf_speech = min(1.0, ns_u / MIN_SPEECH)
        # gated by confidence: hesitation counts as the user's level/rate baselines settle
        hesitation = conf_speech * min(1.0, 0.5 * h_pause + 0.25 * h_energy + 0.25 * h_rate)
        delay = gap_delay_ms(c, fto_u, self.baselines[0].n_fto)
        if ns_u < MIN_RATE_SPEECH:
            ru = math.nan  # no rate advice from less than 1 s of the user's speech
        elif math.isfinite(ru):
            ru = max(ru, MIN_RATE_SPS)
        if math.isfinite(ru) and ru > 0:
            lo, hi = ru * (1 - c.rate_dead_band), ru * (1 + c.rate_dead_band)
            target = min(max(rg, lo), hi) if math.isfinite(rg) else ru
        else:
            target = math.nan  # no advice without the user's rate: the agent keeps its own
        dl = u["base_level_db"][i] - g["base_level_db"][i]
        if math.isfinite(dl):
            m = c.max_loudness_offset_db
            loud = 0.0 if abs(dl) <= c.loudness_dead_band_db else min(max(dl, -m), m)
        else:
            loud = math.nan
        fu = self._f0_u
        mf = c.max_f0_offset_st
        f0_off = min(max(fu, -mf), mf) if math.isfinite(fu) else math.nan
        nv_g, ns_g = g["n_voiced"][i], g["n_speech"][i]
        return PacingRow(
            t_s=t, user_speaking=bool(u["vad"][i] >= 0.5),
            rate_ratio=_nan(rg / ru) if math.isfinite(ru) and ru > 0 else math.nan,
            gap_mismatch_s=_nan(round(fto_g - fto_u, 3)),  # both on the ms grid: exact ms
            loudness_mismatch_db=_nan(-dl),
            f0_level_mismatch_st=_nan(g["base_f0_st"][i] - u["base_f0_st"][i]),
            f0_range_mismatch_st=_nan(g["base_f0_range_st"][i] - u["base_f0_range_st"][i]),
            reply_delay_ms=float(delay), target_rate_sps=_nan(target),
            loudness_offset_db=loud, f0_offset_st=f0_off, hesitation=float(hesitation),
            conf_reply_delay=min(1.0, self.baselines[0].n_fto / MIN_FTO),
            conf_rate=min(1.0, ns_u / MIN_SPEECH),
            conf_loudness=min(1.0, min(ns_u, ns_g) / MIN_SPEECH),
            conf_f0=min(1.0, nv_u / MIN_VOICED),
            warming_up=bool(nv_u < MIN_VOICED or ns_u < MIN_SPEECH
                            or nv_g < MIN_VOICED or ns_g < MIN_SPEECH),
        )
