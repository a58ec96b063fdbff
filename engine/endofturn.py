"""End of turn: a causal probability that the user has finished, every 10 ms of their silence.

While the user (speaker 0) is silent after speaking, each 10 ms frame gets ``turn_end_prob``,
the probability that this silence is the end of their turn (a *gap* the other party should fill)
rather than a pause inside it; a ``turn_end`` event marks the first frame where it reaches
``EndOfTurnConfig.threshold``, with its latency from the end of speech.

The model is a hazard in three terms (log-odds add):

``logit p(t) = bias + log((a + n_end) / (a + n_pause)) + cue_weight * (cues - cue_centre)
+ log(1 / S_user(t))``

1. **Prosodic cues at the end of the IPU** (known the moment speech stops): seven turn-yielding
   cues, each a soft count 0..1 relative to the speaker's own baseline (Gravano & Hirschberg
   2011: a switch grows likelier roughly linearly with the number of cues shown together; the
   cues and their scalings: :mod:`prosync.engine.turn_cues`). ``cues`` is their sum (0..7);
   ``cue_centre`` the typical sum, so that ``bias`` is the log-odds of a turn end for an
   ordinary ending.

2. **The silence so far against this user's own pauses**. If the turn has ended, the user stays
   silent; if it has not, they resume after a pause drawn from their pause distribution. Bayes
   gives posterior odds = prior odds / S(t), S(t) = P(pause > t), here the user's pauses as a
   log-normal (Heldner & Edlund 2010, "Pauses, gaps and overlaps in conversations", J. Phonetics
   38:555-568: within-speaker pauses are longer than between-speaker gaps and skewed; Campione &
   Véronis 2002 for log-normal pause durations). ``log_pause_mu`` starts at the population prior
   (``prior_pause_s``) and moves to the user's own pauses with ``prior_pauses`` pseudo-counts.

3. **How often this user's silences are turn ends** (per-speaker prior odds). Speakers differ in
   how often they pause inside a turn (Heldner & Edlund 2010: pauses outnumber gaps for some
   speakers, not others); the prior odds move from even (``prior_ends`` pseudo-counts on each
   side) to the user's own counts: ``n_pause`` silences the user ended by speaking again with
   nobody else talking, ``n_end`` silences in which the other party spoke and had stopped when
   the user spoke again (a hand-over). A silence the user ends while the other is still talking
   is ambiguous (a barge-in on an agent that replied too early, or competition for the floor)
   and counts as neither, so an agent's own early replies do not teach it that pauses are ends.
   With few silences (a short call) this term stays near 0 and ``bias`` rules.

4. **Fragments** (off unless ``fragment_s`` > 0): after an IPU shorter than ``fragment_s`` (a
   click, a breath, a cut-off word, a short "mm": Pipecat's VAD does not start on under 0.2 s of
   speech and Silero misses most of them) the probability is held at 0 until the silence
   reaches ``fragment_wait_s``, then follows the hazard above. Measured held out by
   conversation and by dataset (``bench/results/end_of_turn.md``, "Fragment gate"): it spares
   the one or two HOLDs after a fragment on the development conversations, and delays the
   SHIFTs after one as much; not settled by those events, so off.

The two searched parameters (``bias``, ``cue_weight``;
:class:`~prosync.engine.config.EndOfTurnConfig`) are searched by leave-one-dataset-out on the
shared development conversations (``bench/bench_end_of_turn.py``,
``bench/results/end_of_turn.md``); the pause prior (median 0.5 s, log-sd 0.7, 5 pseudo-pauses),
the even prior odds of a turn end (4 pseudo-counts a side) and the cue scalings are fixed from
the literature above. On those conversations the cues do not separate pauses from ends (38
events matched, 30 of them far-field AMI mixes): the bench's "Cue audit" prints what each
measures per event (its fixes are in :mod:`~prosync.engine.turn_cues`); after them the single
measures stay within AUC 0.4-0.6, every interval including 0.5, and a ridge logistic
combination of the measures as z-scores against the user's own earlier ends does not carry
over to a held-out dataset (AUC about 0.4, interval 0.2-0.6). On the close-talk recordings
alone (CANDOR, the phone call) the voicing of the last 200 ms separates the 3 HOLDs from the 5
SHIFTs (AUC 0.97), but those HOLDs are one speaker's three pauses: speaker and cue are
confounded, and no gate of the cues by channel quality can be chosen with that speaker held
out (the bench's "Per dataset"). The search's objective is flat within about two events over
the plausible region (its best point moves from run to run): ``cue_weight`` ships at 0 and
``bias`` at -1.5, a point within that noise; the cues are measured and reported with every
``turn_end`` event, and move the probability only with a weight set by the deployment. The
probability is then a per-speaker calibrated silence hazard. Held out, its calibration answers
about 100 ms sooner than a plain timer at equal false interruptions (interval -100 to +310 ms:
noise), and variants of the timer part (the user's hand-over odds alone, the user's pause
spread, a pause prior scaled to the user's gaps) do no better beyond noise (the bench's
"Timer part").

Cost: at each end of speech the cues and the whole probability curve of the silence (one
vectorised computation); per push only scalar work and slices of that curve (no per-hop
allocation besides the returned rows; ``bench/bench_end_of_turn_hop.py``).

One job, the tracker and its model's terms (the cues are measured in
:mod:`~prosync.engine.turn_cues`); past ~400 lines only by this documentation of the model.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from .config import HOP_S, EndOfTurnConfig
from .turn_cues import CUE_NAMES, cue_measures, cue_scores, cue_values

#: Frames of the user's recent speech kept for the cues (1 s).
RING = 100
#: Frames per baseline bin (100 ms, as the session's baselines).
BIN = 10

#: One row per 10 ms frame of user silence after speech (``Update.end_of_turn``).
#: ``turn_end_prob`` in float64, as the curve and the ``turn_end`` event: the row at the crossing
#: holds the event's value to the last bit.
EOT_DTYPE = np.dtype([("t_s", np.float64), ("silence_s", np.float32),
                      ("turn_end_prob", np.float64)])

@dataclass(frozen=True)
class TurnEndEvent:
    """The moment ``turn_end_prob`` first reached the threshold in a silence of the user.

    ``t_s`` is the frame centre at the crossing, ``speech_end_s`` the end of the user's last
    speech frame, ``latency_s = t_s + 0.005 - speech_end_s`` (the silence up to the crossing
    frame's end), ``ipu_s`` the length of the IPU that ended, ``prior`` the probability at the
    end of speech (before any silence: the user's hand-over odds and the weighted cues),
    ``cues`` the seven cue values (see the module doc).
    """

    t_s: float
    speech_end_s: float
    latency_s: float
    turn_end_prob: float
    prior: float
    ipu_s: float
    cues: tuple

    def __getattr__(self, name):  # the cues by name, as the output schema's columns
        if name in CUE_NAMES:
            return float(self.cues[CUE_NAMES.index(name)])
        raise AttributeError(name)

    def as_dict(self) -> dict:
        d = {"kind": "turn_end", "t_s": self.t_s, "speech_end_s": self.speech_end_s,
             "latency_s": self.latency_s, "turn_end_prob": self.turn_end_prob,
             "prior": self.prior, "ipu_s": self.ipu_s}
        d.update(zip(CUE_NAMES, (float(c) for c in self.cues), strict=True))
        return d


def _log_ndtr():
    """scipy's ``log_ndtr`` (imported on first use; an import statement per call costs ~60 us:
    scipy.special resolves its names lazily)."""
    global _LOG_NDTR
    if _LOG_NDTR is None:
        from scipy.special import log_ndtr

        _LOG_NDTR = log_ndtr
    return _LOG_NDTR


_LOG_NDTR = None


def pause_mu(cfg: EndOfTurnConfig, n_pause: int, sum_log_pause: float) -> float:
    """Log-mean of a user's pause durations: the prior's (``prior_pauses`` pseudo-pauses of
    ``prior_pause_s``) blended with their ``n_pause`` pauses (``sum_log_pause``: sum of logs)."""
    n0 = cfg.prior_pauses
    return (n0 * math.log(cfg.prior_pause_s) + sum_log_pause) / (n0 + n_pause)


def end_log_odds(cfg: EndOfTurnConfig, n_end: int, n_pause: int) -> float:
    """A user's log-odds that a silence is a turn end (0 = even, the prior)."""
    a = cfg.prior_ends
    return math.log((a + n_end) / (a + n_pause))


def log_inv_survival(t: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """``-log P(pause > t)`` for log-normal pauses (log-mean ``mu``, log-sd ``sigma``)."""
    z = (np.log(np.maximum(t, 1e-3)) - mu) / sigma
    return -_log_ndtr()(-z)


def held_frames(cfg: EndOfTurnConfig, ipu_s: float) -> int:
    """Frames at the start of a silence where ``turn_end_prob`` is held at 0: after a fragment
    (an IPU shorter than ``fragment_s``) those before the silence reaches ``fragment_wait_s``
    (frame ``j`` of a silence ends ``(j + 1) * HOP_S`` into it), else none."""
    if ipu_s < cfg.fragment_s:
        return max(0, int(round(cfg.fragment_wait_s / HOP_S)) - 1)
    return 0


def silence_logit(cfg: EndOfTurnConfig, t: np.ndarray, cues, n_pause: int,
                  sum_log_pause: float, n_end: int) -> np.ndarray:
    """The log-odds of a turn end after ``t`` s of silence, from the state an
    :attr:`EndOfTurnTracker.log` entry records at the silence's start (offline replays with
    other parameters: what the tracker computes)."""
    z0 = (cfg.bias + end_log_odds(cfg, n_end, n_pause)
          + cfg.cue_weight * (sum(cues) - cfg.cue_centre))
    return z0 + log_inv_survival(t, pause_mu(cfg, n_pause, sum_log_pause), cfg.pause_sigma)


class EndOfTurnTracker:
    """Causal end-of-turn probability of the user (speaker 0) from both speakers' frames.

    Feed consecutive blocks of joined frames with :meth:`update`; it returns the rows of the
    user's silent frames (:data:`EOT_DTYPE`) and the ``turn_end`` events that became final.
    Results do not depend on block sizes.
    """

    def __init__(self, cfg: EndOfTurnConfig, baseline, bridge_s: float):
        self.cfg = cfg
        # the user's F0 range, level and rate: a baseline of our own, fed in fixed 100 ms bins
        # of the frames up to each end of speech (so the cues do not depend on block sizes),
        # warm from the session's (a returning speaker's profile)
        self.baseline = copy.deepcopy(baseline)
        self._binned = 0            # frames added to self.baseline (a multiple of BIN)
        self._bin_out = np.empty((RING // BIN, 6))
        self.bridge = max(1, int(round(bridge_s / HOP_S)))
        # the user's recent frames (a copy) and the other's speech flags, frames _h0 .. _h0+_hn-1:
        # at least the last RING frames before the current block (the cues read them at each
        # end of speech) and the frames the baseline has not taken yet; made on the first block
        self._hbuf: np.ndarray | None = None
        self._obuf = np.zeros(0, bool)
        self._h0 = 0
        self._hn = 0
        self._k = 0                 # frames seen
        self._speaking = False
        self._ipu_start = -1        # frame where the current IPU began, -1 before any speech
        self._end = -1              # frame one past the last speech frame, -1 while speaking
        self._logit0 = math.nan     # cue log-odds of the silence in progress
        self._fired = False
        self._prior = math.nan
        self._cues: tuple | None = ()  # None: measured later from _cue_args
        self._cue_args: tuple | None = None
        self._ipu_s = math.nan
        # the user's pauses (silences they resumed after, no other speech between): log-normal
        self._n_pause = 0
        self._sum_log_pause = 0.0
        self._n_end = 0             # silences ended by a hand-over (the other spoke, then stopped)
        self._other_in_silence = False
        self.latest_prob = math.nan
        # the silence so far at the end of each frame of the horizon, and the curve of the
        # silence in progress (filled at its start)
        self._t = np.arange(1, int(round(cfg.horizon_s / HOP_S)) + 1) * HOP_S
        self._curve = np.zeros(self._t.shape[0])
        self._curve_mu = math.nan
        self._lis = self._t
        self._hit = -1
        self._rows = np.zeros(RING, EOT_DTYPE)
        self._zeros = np.zeros(RING, bool)
        #: When a list, each silence's start is appended as ``(speech_end_s, cues, n_pauses,
        #: sum_log_pauses, n_end, measures)`` (``measures``: the raw cue measures,
        #: :func:`~prosync.engine.turn_cues.cue_measures`; for offline analysis, e.g. the
        #: bench's parameter search and cue fit).
        self.log: list | None = None

    def state(self) -> tuple[bool, float]:
        """``(turn_end fired in the current silence, silence so far in s)``; ``(False, 0.0)``
        while the user speaks or before they spoke."""
        if self._speaking or self._end < 0:
            return False, 0.0
        return self._fired, (self._k - self._end) * HOP_S

    # ------------------------------------------------------------------ pauses
    @property
    def pause_mu(self) -> float:
        """Log-mean of the user's pause durations (prior blended with their own pauses)."""
        return pause_mu(self.cfg, self._n_pause, self._sum_log_pause)

    @property
    def pause_median_s(self) -> float:
        return math.exp(self.pause_mu)

    @property
    def end_log_odds(self) -> float:
        """The user's own log-odds that a silence is a turn end (0 = even, the prior)."""
        return end_log_odds(self.cfg, self._n_end, self._n_pause)

    # -------------------------------------------------------------------- cues
    def _recent(self, end: int) -> dict:
        """The last ``RING`` frames before frame ``end`` (copies of the history: the cues may
        be measured a push later), as :func:`~prosync.engine.turn_cues.cue_measures` reads them."""
        lo, hi = max(self._h0, end - RING) - self._h0, end - self._h0
        u = self._hbuf[lo:hi]
        return {"f0": u["f0_hz"].astype(np.float64), "en": u["energy_db"].astype(np.float64),
                "vo": u["voiced"].copy(), "sp": u["speech_raw"].copy(),
                "ot": self._obuf[lo:hi].copy()}

    def _start_silence(self, r: dict) -> None:
        """Speech just ended: the cues, and the whole probability curve of this silence (one
        vectorised computation per silence; each hop then only reads it)."""
        c = self.cfg
        snap = self.baseline.snapshot()
        self._ipu_s = (self._end - self._ipu_start) * HOP_S
        if c.cue_weight == 0.0 and self.log is None:
            # the cues (finite, 0..1) do not move the probability: they are measured on the next
            # push, or when a turn_end event needs them, from the frames and baseline of now
            self._cues = None
            self._cue_args = (r, snap, self._ipu_s)
            self._logit0 = c.bias + self.end_log_odds  # + 0 * (sum(cues) - centre)
        else:
            measures = cue_measures(r, snap, self._ipu_s)
            self._cues = cue_scores(measures, snap)
            self._logit0 = (c.bias + self.end_log_odds
                            + c.cue_weight * (sum(self._cues) - c.cue_centre))
        self._prior = 1.0 / (1.0 + math.exp(-self._logit0))
        if self.log is not None:
            self.log.append((self._end * HOP_S, self._cues, self._n_pause, self._sum_log_pause,
                             self._n_end, measures))
        np.add(self._log_inv_s(), self._logit0, out=self._curve)
        np.negative(self._curve, out=self._curve)
        np.exp(self._curve, out=self._curve)
        np.add(self._curve, 1.0, out=self._curve)
        np.divide(1.0, self._curve, out=self._curve)
        self._curve[:held_frames(c, self._ipu_s)] = 0.0
        hit = np.flatnonzero(self._curve >= c.threshold)
        self._hit = int(hit[0]) if hit.size else -1
        self._fired = False
        self._other_in_silence = False

    def _measured_cues(self) -> tuple:
        """The cues of the silence in progress (measured now if :meth:`_start_silence` left
        them for later)."""
        if self._cues is None:
            self._cues = cue_values(*self._cue_args)
            self._cue_args = None
        return self._cues

    def _log_inv_s(self) -> np.ndarray:
        """``-log P(pause > t)`` at the end of each frame of the horizon (cached per ``mu``)."""
        mu = self.pause_mu
        if mu != self._curve_mu:
            self._curve_mu = mu
            self._lis = log_inv_survival(self._t, mu, self.cfg.pause_sigma)
        return self._lis

    # ------------------------------------------------------------------ update
    def _remember(self, k0: int, user: np.ndarray, osp: np.ndarray, n: int) -> None:
        """Append the block (frames ``k0 .. k0+n-1``) to the history, first dropping the frames
        older than the last ``RING`` when the buffer is full (the baseline took their bins)."""
        hb = self._hbuf
        if hb is None or hb.dtype != user.dtype:
            hb = self._hbuf = np.zeros(max(4 * RING, 2 * n), user.dtype)
            self._hraw = hb.view(np.dtype((np.void, hb.dtype.itemsize)))
            self._obuf = np.zeros(hb.shape[0], bool)
            self._h0, self._hn = k0, 0
        elif self._hn + n > hb.shape[0]:
            drop = max(0, k0 - RING - self._h0)
            keep = self._hn - drop
            if keep + n > hb.shape[0]:  # a block longer than the buffer: grow
                self._hbuf = np.zeros(2 * (keep + n), hb.dtype)
                self._hbuf[:keep] = hb[drop:self._hn]
                self._hraw = self._hbuf.view(self._hraw.dtype)
                o = self._obuf
                self._obuf = np.zeros(self._hbuf.shape[0], bool)
                self._obuf[:keep] = o[drop:self._hn]
            else:
                self._hraw[:keep] = self._hraw[drop:self._hn]
                self._obuf[:keep] = self._obuf[drop:self._hn]
            self._h0 += drop
            self._hn = keep
        hn = self._hn
        if n == 1:  # 10 ms pushes: a record assignment is the cheapest copy
            self._hbuf[hn] = user[0]
            self._obuf[hn] = osp[0]
        else:
            self._hraw[hn:hn + n] = user[:n].view(self._hraw.dtype)
            self._obuf[hn:hn + n] = osp
        self._hn = hn + n

    def _keep(self, k0: int, n: int) -> None:
        if self._binned < k0 + n - RING:
            # frames older than the last RING may leave the history: the baseline takes its
            # bins first (every ~RING frames, amortised)
            self._feed_baseline(k0 + n)

    def _feed_baseline(self, upto: int) -> None:
        """Add the complete 100 ms bins of frames ``[self._binned, upto)`` (in the history) to
        the baseline."""
        end = upto - upto % BIN
        if end <= self._binned:
            return
        fr = self._hbuf[self._binned - self._h0:end - self._h0]
        nb = fr.shape[0] // BIN
        if nb:
            if self._bin_out.shape[0] < nb:
                self._bin_out = np.empty((nb, 6))
            self.baseline.add_bins(fr[:nb * BIN], BIN, self._bin_out[:nb])
        self._binned = end

    def update(self, user: np.ndarray, other: np.ndarray | None, n: int):
        """Feed ``n`` joined frames (record arrays with ``t_s``, ``f0_hz``, ``voiced``,
        ``energy_db``, ``speech_raw``; ``other`` may be None); returns ``(rows, events)``:
        one :data:`EOT_DTYPE` row per frame of user silence within ``horizon_s`` of their last
        speech, and the :class:`TurnEndEvent` of each threshold crossing."""
        if n == 0:
            return _EMPTY, []
        if self._cues is None:  # the last push's end of speech: its cues, a push later
            self._measured_cues()
        elif self._speaking and self.pause_mu != self._curve_mu:
            # the user resumed after a pause: the pause model's survival for their next end of
            # speech, a push ahead (the same values, cached by the model)
            self._log_inv_s()
        sp = user["speech_raw"][:n]
        osp = other["speech_raw"][:n] if other is not None else self._no_other(n)
        k0 = self._k
        if self._rows.shape[0] < n:
            self._rows = np.zeros(max(n, 2 * self._rows.shape[0]), EOT_DTYPE)
        n_rows = 0
        events: list[TurnEndEvent] = []
        self._remember(k0, user, osp, n)
        if n == 1:  # 10 ms pushes: scalar tests
            same = bool(sp[0]) == self._speaking
        else:
            same = sp.all() if self._speaking else not sp.any()
        if same:  # no change: the common case
            if not self._speaking and self._end >= 0:
                n_rows = self._silent_run(k0, 0, n, user["t_s"], osp, n_rows, events)
        else:  # runs of equal speech flags: Python per run, numpy over the frames of a run
            change = np.flatnonzero(np.diff(sp.astype(np.int8), prepend=np.int8(self._speaking)))
            start = 0
            for b in [*change.tolist(), n]:
                if b > start and not self._speaking and self._end >= 0:
                    n_rows = self._silent_run(k0, start, b, user["t_s"], osp, n_rows, events)
                if b < n:
                    self._toggle(k0 + b)
                start = b
        self._keep(k0, n)
        self._k = k0 + n
        if not n_rows:
            return _EMPTY, events
        # a copy as raw records (a structured array's copy() goes field by field: slow)
        raw = self._rows[:n_rows].view(np.dtype((np.void, EOT_DTYPE.itemsize)))
        return np.ndarray((n_rows,), EOT_DTYPE, raw.copy()), events

    def _no_other(self, n: int) -> np.ndarray:
        if self._zeros.shape[0] < n:
            self._zeros = np.zeros(n, bool)
        return self._zeros[:n]

    def _toggle(self, k: int) -> None:
        """The user's speech flag changes at frame ``k``."""
        if not self._speaking:  # speech starts at frame k
            if self._end < 0 or k - self._end >= self.bridge:  # a new IPU
                dur = (k - self._end) * HOP_S
                if self._end >= 0 and dur >= self.cfg.min_pause_s:  # calibrate on this silence
                    if not self._other_in_silence:  # a pause of the user
                        self._n_pause += 1
                        self._sum_log_pause += math.log(dur)
                    elif not self._obuf[k - self._h0]:  # the other spoke and stopped: a hand-over
                        self._n_end += 1
                self._ipu_start = k
            self._end = -1
            self._speaking = True
            self.latest_prob = math.nan
        else:  # speech ends: frame k is the first silent one
            self._speaking = False
            self._end = k
            if self._ipu_start < 0:
                self._ipu_start = k
            self._feed_baseline(k)
            self._start_silence(self._recent(k))

    def _silent_run(self, k0, a, b, t_s, osp, n_rows, events) -> int:
        """Frames ``a:b`` of the block are user silence after speech ended at ``self._end``."""
        if not self._other_in_silence and (osp[a] if b - a == 1 else osp[a:b].any()):
            self._other_in_silence = True
        j0 = k0 + a - self._end               # index of frame a in this silence's curve
        j1 = min(k0 + b - self._end, self._t.shape[0])
        if j1 <= j0:
            return n_rows
        m = j1 - j0
        out = self._rows[n_rows:n_rows + m]
        out["t_s"] = t_s[a:a + m]
        out["silence_s"] = self._t[j0:j1]
        out["turn_end_prob"] = self._curve[j0:j1]
        self.latest_prob = float(self._curve[j1 - 1])
        if not self._fired and j0 <= self._hit < j1:
            j = self._hit - j0
            self._fired = True
            events.append(TurnEndEvent(
                t_s=round(float(out["t_s"][j]), 3), speech_end_s=round(self._end * HOP_S, 3),
                latency_s=round(float(self._t[self._hit]), 3),
                turn_end_prob=float(self._curve[self._hit]), prior=self._prior,
                ipu_s=round(self._ipu_s, 3), cues=self._measured_cues()))
        return n_rows + m


#: No rows (shared, read-only: an Update without end-of-turn rows allocates nothing).
EOT_EMPTY = _EMPTY = np.zeros(0, EOT_DTYPE)
_EMPTY.flags.writeable = False
