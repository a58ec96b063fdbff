"""Configuration of the per-speaker core and the turn tracker.

All times are in seconds (``_s``), levels in dB (``_db``), frequencies in Hz (``_hz``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Integral

from .errors import ProsyncError

#: Internal sample rate of the engine: every input is resampled to this rate (engine/resample.py).
SAMPLE_RATE = 16000
#: Frame hop: features are emitted every 10 ms.
HOP = 160
HOP_S = HOP / SAMPLE_RATE


def _in_range(cfg, section: str, name: str, lo: float, hi: float, unit: str = "", *,
              lo_open: bool = False) -> None:
    """Raise :class:`ProsyncError` unless ``cfg.<name>`` is a number in ``[lo, hi]`` (``(lo, hi]``
    with ``lo_open``); the message names the field, the valid range and the default."""
    v = getattr(cfg, name)
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v <= hi and (
        v > lo if lo_open else v >= lo)
    if not ok:
        default = getattr(type(cfg), name)  # a dataclass keeps the field's default on the class
        span = f"more than {lo:g} and at most {hi:g}" if lo_open else f"{lo:g} to {hi:g}"
        raise ProsyncError(f"{section}.{name}={v!r} is invalid: use {span}{unit} (default {default:g})")


def _numbers(cfg, section: str) -> None:
    """Raise :class:`ProsyncError` at the first field of ``cfg`` that is not a number (``None``,
    a string, a bool: a client's JSON reaches here unchecked, and a comparison with it raised
    TypeError), naming it and its default; the section's own ``validate`` checks the ranges
    (NaN and inf included)."""
    for f in fields(cfg):
        v, default = getattr(cfg, f.name), f.default
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise ProsyncError(f"{section}.{f.name}={v!r} is invalid: use {kind} "
                               f"(default {default!r})")


@dataclass(frozen=True)
class PitchConfig:
    floor_hz: float = 60.0
    ceiling_hz: float = 500.0

    def validate(self) -> None:
        if not (20.0 <= self.floor_hz < self.ceiling_hz <= 2000.0):
            raise ProsyncError(
                f"pitch range {self.floor_hz}-{self.ceiling_hz} Hz is invalid: "
                "use 20 <= floor_hz < ceiling_hz <= 2000 (default 60-500)"
            )


@dataclass(frozen=True)
class VadConfig:
    #: webrtcvad aggressiveness, 0 (least) to 3 (most aggressive about filtering non-speech).
    webrtc_mode: int = 2
    #: Speech starts where webrtcvad says so and the energy is this far above the noise floor.
    floor_margin_db: float = 9.0
    #: Once started, speech goes on while the energy stays this far above the floor (hysteresis).
    off_margin_db: float = 4.0
    #: ... and this far where that stays ``tail_rel_db`` or more under the speaker's speech
    #: level (a quiet room: a decaying tail ends where it rises clear of the floor; in noise,
    #: with the floor near the level, ``off_margin_db`` applies).
    tail_margin_db: float = 12.0
    tail_rel_db: float = 30.0
    #: A frame the pitch tracker calls voiced is speech when this far above the floor.
    voiced_margin_db: float = 3.0
    #: The noise floor: this quantile of the energies of the last ``floor_window_s`` of
    #: non-speech frames (robust to the dips of real room tone, unlike the minimum).
    floor_quantile: float = 0.2
    floor_window_s: float = 3.0
    #: Fluctuating noise (real room tone) peaks far above its floor: speech also has to clear
    #: this quantile of the same non-speech frames, by ``peak_on_db`` to start and by
    #: ``peak_off_db`` to go on; the speech level learns only from voiced frames ``peak_on_db``
    #: over it, and those count as a voice (``turns.min_voiced_s``) once also in the upper part
    #: of the range from the floor to that level (dB): over ``evidence_frac`` of it within
    #: ``evidence_hold_s`` of the last such frame (the voice goes on; 0.5 its upper half), over
    #: ``evidence_frac_new`` of it after longer (a voice starting anew: real noise's talkers
    #: and announcements, 10 dB under the speaker, are no voice of this channel). 0.7 and 0.6 s
    #: tuned on FDA + PTDB only; held out, real noise 15 dB recall / precision 0.977 / 0.811 ->
    #: 1.000 / 0.880, every other condition unchanged (bench/results/turns_planted_reading.md,
    #: round 7).
    peak_quantile: float = 0.9
    peak_on_db: float = 3.0
    peak_off_db: float = 0.0
    evidence_frac: float = 0.5
    evidence_frac_new: float = 0.7
    evidence_hold_s: float = 0.6
    #: Speech that fades into the background goes on under it: where it ends by falling under
    #: the floor's or the peaks' margin, it is extended by the time a tail takes to fall from
    #: there to ``masked_range_db`` under the speaker's speech level at ``masked_slope_db_s``
    #: (dB per second), at most ``masked_max_s``, when it ran for ``turns.min_ipu_s`` at least
    #: (a blip is not made an IPU). Only where the background set the margin (``off_margin_db``,
    #: not ``tail_margin_db``): in a quiet room a tail ends where it sinks to the tail margin.
    masked_range_db: float = 45.0
    masked_slope_db_s: float = 350.0
    masked_max_s: float = 0.3
    #: Speech without a voiced frame for this long ends, and is taken as noise.
    max_unvoiced_s: float = 0.3
    #: Unvoiced frames more than this far under the speaker's speech level (the 80th percentile
    #: of their voiced speech frames' energies) are not speech: breaths and lip noise.
    unvoiced_rel_db: float = 35.0
    #: ... but speech going on continues through frames at least this periodic (pitch tracker,
    #: 0..1): breaths are not periodic, a soft "um" the tracker does not call voiced is.
    periodic_min: float = 0.3
    #: Speech is held this long after the last speech frame (hangover).
    hangover_s: float = 0.12
    #: The energy every margin above is measured on: the 25 ms frame's energy after a
    #: second-order Butterworth band filter from ``band_lo_hz`` to ``band_hi_hz`` (0: no such
    #: edge; both 0: the broadband energy), its floor and speech level tracked on it alike.
    #: ``band_count`` > 1 cuts that range into as many bands, equal in octaves, and the energy is
    #: the best band's rise over its own floor, added to the floors' total
    #: (:func:`prosync.native.bands.band_snr_energy`). Default: 150 Hz up, 5 bands (tuned on
    #: FDA + PTDB only; held out, median |FTO error| pink 10 dB 150 -> 73-82 ms, real noise
    #: 104 -> 66-73 ms, clean 24-26 -> 26 ms: bench/results/turns_planted_reading.md, round 6).
    #: ``band_lo_hz = 0`` and ``band_count = 1``: the broadband energy of earlier releases.
    band_lo_hz: float = 150.0
    band_hi_hz: float = 0.0
    band_count: int = 5
    #: In two-microphone recordings, where both channels are speech and their correlation at
    #: lags within ``cross_talk_max_lag_s`` (over ``cross_talk_win_s`` windows) reaches this,
    #: one voice is reaching both microphones: the quieter channel's speech is the other's.
    cross_talk_corr: float = 0.5
    cross_talk_win_s: float = 0.02
    cross_talk_max_lag_s: float = 0.005

    def validate(self) -> None:
        if self.webrtc_mode not in (0, 1, 2, 3) or isinstance(self.webrtc_mode, bool):
            raise ProsyncError(f"vad.webrtc_mode={self.webrtc_mode!r} is invalid: use 0, 1, 2 or 3 "
                               "(default 2)")
        _in_range(self, "vad", "floor_margin_db", 0.0, 40.0, " dB")
        _in_range(self, "vad", "off_margin_db", 0.0, 40.0, " dB")
        _in_range(self, "vad", "tail_margin_db", 0.0, 40.0, " dB")
        _in_range(self, "vad", "tail_rel_db", 0.0, 120.0, " dB")
        _in_range(self, "vad", "voiced_margin_db", 0.0, 40.0, " dB")
        _in_range(self, "vad", "floor_quantile", 0.0, 1.0, "")
        _in_range(self, "vad", "floor_window_s", 0.1, 60.0, " s")
        _in_range(self, "vad", "peak_quantile", 0.0, 1.0, "")
        _in_range(self, "vad", "peak_on_db", -40.0, 40.0, " dB")
        _in_range(self, "vad", "peak_off_db", -40.0, 40.0, " dB")
        _in_range(self, "vad", "evidence_frac", 0.0, 1.0, "")
        _in_range(self, "vad", "evidence_frac_new", 0.0, 1.0, "")
        _in_range(self, "vad", "evidence_hold_s", 0.0, 10.0, " s")
        _in_range(self, "vad", "masked_range_db", 0.0, 120.0, " dB")
        _in_range(self, "vad", "masked_slope_db_s", 0.0, 1e5, " dB/s")
        _in_range(self, "vad", "masked_max_s", 0.0, 1.0, " s")
        _in_range(self, "vad", "max_unvoiced_s", 0.01, 5.0, " s")
        _in_range(self, "vad", "unvoiced_rel_db", 0.0, 120.0, " dB")
        _in_range(self, "vad", "periodic_min", 0.0, 1.01, "")
        _in_range(self, "vad", "hangover_s", 0.0, 1.0, " s")
        _in_range(self, "vad", "band_lo_hz", 0.0, 7000.0, " Hz")
        _in_range(self, "vad", "band_hi_hz", 0.0, 7900.0, " Hz")
        if (not isinstance(self.band_count, int) or isinstance(self.band_count, bool)
                or not 1 <= self.band_count <= 8):
            raise ProsyncError(f"vad.band_count={self.band_count!r} is invalid: use an integer "
                               "1 to 8 (default 5)")
        if self.band_count > 1 and self.band_lo_hz <= 0:
            raise ProsyncError(f"vad.band_count={self.band_count!r} needs vad.band_lo_hz > 0 "
                               "(bands equal in octaves)")
        if 0 < self.band_hi_hz <= self.band_lo_hz:
            raise ProsyncError(f"vad.band_hi_hz={self.band_hi_hz!r} is invalid: use 0 (no upper "
                               f"edge) or more than vad.band_lo_hz={self.band_lo_hz!r}")
        _in_range(self, "vad", "cross_talk_corr", 0.0, 1.0, "")
        _in_range(self, "vad", "cross_talk_win_s", 0.005, 0.1, " s")
        _in_range(self, "vad", "cross_talk_max_lag_s", 0.0, 0.02, " s")


@dataclass(frozen=True)
class RateConfig:
    #: Rolling window for syllables per second.
    window_s: float = 3.0
    #: Minimum fall (dB) after an intensity peak, before the next peak (de Jong & Wempe 2009
    #: use 2 dB on Praat's intensity; 1 dB fits prosync's 65 ms smoothed contour, tuned on FDA rl).
    min_dip_db: float = 1.0
    #: Peaks must be above (speaker's running peak level - this) (de Jong & Wempe: -25 dB).
    silence_db: float = 25.0

    def validate(self) -> None:
        _in_range(self, "rate", "window_s", 0.1, 600.0, " s")
        _in_range(self, "rate", "min_dip_db", 0.0, 20.0, " dB (de Jong & Wempe use 2)", lo_open=True)
        _in_range(self, "rate", "silence_db", 0.0, 100.0, " dB (de Jong & Wempe use 25)",
                  lo_open=True)


@dataclass(frozen=True)
class TurnConfig:
    #: Within-speaker silences shorter than this are bridged into one IPU (Heldner & Edlund 2010).
    ipu_bridge_s: float = 0.18
    #: Speech runs closer than this are one stretch (a stop closure does not split a word); a
    #: stretch without ``min_voiced_s`` of voiced speech is dropped before the IPU bridging.
    stretch_bridge_s: float = 0.1
    #: An IPU (after bridging) shorter than this is not one: stray frames are dropped.
    min_ipu_s: float = 0.08
    #: An IPU needs this much evidence of a voice (the VAD's ``speech_evidence``: voiced speech
    #: ``vad.peak_on_db`` over the ``vad.peak_quantile`` of the noise, in the upper part of the
    #: floor..speech level range, ``vad.evidence_frac`` while the voice goes on and
    #: ``vad.evidence_frac_new`` when it starts anew, ``vad.evidence_hold_s``): breaths, noise
    #: bursts, voiced-sounding noise and talkers in the background are dropped.
    min_voiced_s: float = 0.03
    #: An IPU starts where the energy first rose over the background before the VAD's onset, at
    #: most this much earlier (bookkeeping on frames already seen: speech is not detected later,
    #: turn events become final this much later).
    onset_lookback_s: float = 0.1
    #: Before a stretch's first voiced frame (``min_voiced_s``'s evidence), a speech run this far
    #: or further after the run before it starts the stretch anew when the runs before never came
    #: within ``breath_rel_db`` of the speaker's speech level: they held no voice, stood apart and
    #: stayed quiet, an inhalation or a lip click, not the word's onset (0: off).
    breath_gap_s: float = 0.02
    breath_rel_db: float = 20.0

    def validate(self) -> None:
        _in_range(self, "turns", "ipu_bridge_s", 0.0, 2.0, " s")
        _in_range(self, "turns", "min_ipu_s", 0.0, 2.0, " s")
        _in_range(self, "turns", "min_voiced_s", 0.0, 2.0, " s")
        _in_range(self, "turns", "stretch_bridge_s", 0.0, 2.0, " s")
        _in_range(self, "turns", "onset_lookback_s", 0.0, 1.0, " s")
        _in_range(self, "turns", "breath_gap_s", 0.0, 1.0, " s")
        _in_range(self, "turns", "breath_rel_db", 0.0, 120.0, " dB")
        # in whole frames, as the turn tracker counts them: a run breath_gap_s or more after the
        # one before is a breath only while it still joins that run's stretch
        frames = [-(-round(x * 1000) // round(HOP_S * 1000))
                  for x in (self.breath_gap_s, self.stretch_bridge_s, self.ipu_bridge_s)]
        if frames[0] > 0 and frames[0] >= min(frames[1], frames[2]):
            raise ProsyncError(
                f"turns.breath_gap_s={self.breath_gap_s!r} is invalid: it must be shorter than "
                f"turns.stretch_bridge_s={self.stretch_bridge_s!r} and turns.ipu_bridge_s="
                f"{self.ipu_bridge_s!r} in {HOP_S * 1000:g} ms frames (runs that far apart are "
                "separate stretches, so no breath would ever be split off); use 0 to turn the "
                f"breath rule off (default {type(self).breath_gap_s:g})")


#: Most surrogates a synchrony test may ask for (each costs a lag profile per window or
#: session; a client's 1e9 would exhaust memory).
MAX_SURROGATES = 9999


@dataclass(frozen=True)
class SyncConfig:
    """Streaming synchrony: windowed lagged cross-correlation of the speaker-relative series.

    The field defaults are the ``live`` preset; :data:`SYNC_PRESETS` names the presets and
    :meth:`preset` picks one by name (``--preset`` on the command line).
    """

    rate_hz: float = 10.0
    window_s: float = 8.0
    lag_s: float = 2.0
    step_s: float = 0.5
    #: Surrogates in each feature's pool for the window p-value and z.
    surrogates: int = 99
    #: Recent history the window surrogates are drawn from (s; at least the last 5 minutes,
    #: ``synchrony.UTTERANCE_HISTORY_S``).
    history_s: float = 60.0
    #: Circular shifts of the second speaker for the session-level test.
    session_surrogates: int = 99
    #: A speaker's last F0/energy/rate value is carried through this much of their silence
    #: (0: unvoiced and silent stretches stay missing).
    hold_s: float = 4.0
    seed: int = 20261127

    def validate(self) -> None:
        _in_range(self, "sync", "window_s", 0.5, 3600.0, " s")
        _in_range(self, "sync", "step_s", 0.0, 3600.0, " s", lo_open=True)
        _in_range(self, "sync", "history_s", 0.0, 3600.0, " s", lo_open=True)
        _in_range(self, "sync", "hold_s", 0.0, 60.0, " s")
        if not 1.0 <= self.rate_hz <= 100.0 or abs(100.0 / self.rate_hz - round(100.0 / self.rate_hz)) > 1e-9:
            raise ProsyncError(f"sync rate_hz={self.rate_hz} is invalid: use a divisor of 100 Hz, "
                               "e.g. 10, 20 or 25")
        if not 0 <= self.lag_s < self.window_s:
            raise ProsyncError(f"sync lag_s={self.lag_s} must be >= 0 and below window_s={self.window_s}")
        if self.step_s <= 0:
            raise ProsyncError(f"sync step_s={self.step_s} must be positive")
        for name, lo, level in (("surrogates", 39, "0.025"), ("session_surrogates", 19, "0.05")):
            v = getattr(self, name)
            if not isinstance(v, Integral) or isinstance(v, bool) or v > MAX_SURROGATES:
                raise ProsyncError(f"sync {name}={v!r} is invalid: use a whole number from {lo} "
                                   f"to {MAX_SURROGATES} (default 99)")
            if v < lo:
                raise ProsyncError(f"sync {name}={v} is too few for a p-value of {level}: use "
                                   f"{lo} or more (default 99)")
        if not isinstance(self.seed, Integral) or isinstance(self.seed, bool) \
                or not 0 <= self.seed < 2 ** 64:
            raise ProsyncError(f"sync.seed={self.seed!r} is invalid: use a whole number from 0 "
                               f"to 2**64 - 1 (default {SyncConfig.seed})")

    @classmethod
    def preset(cls, name: str) -> SyncConfig:
        """The synchrony settings of a named preset (see :data:`SYNC_PRESETS`)."""
        try:
            return SYNC_PRESETS[name]
        except (KeyError, TypeError):
            raise ProsyncError(f"preset {name!r} is unknown: use one of "
                               f"{', '.join(SYNC_PRESETS)}") from None


#: The named synchrony presets, defined here only (the README's preset table quotes them):
#: ``live`` (the field defaults above) suits live pacing; ``research`` takes rMEA's window, lag
#: range and step, with a longer surrogate history.
SYNC_PRESETS: dict[str, SyncConfig] = {
    "live": SyncConfig(),
    "research": SyncConfig(window_s=30.0, lag_s=5.0, step_s=10.0, history_s=120.0),
}
#: The preset a session, a command and :func:`prosync.pseudo_dyads` use unless told otherwise.
DEFAULT_PRESET = "live"
#: The research preset (kept for older imports): ``SYNC_PRESETS["research"]``.
RESEARCH_SYNC = SYNC_PRESETS["research"]


def preset_name(sync: SyncConfig) -> str:
    """The name of the preset whose synchrony settings ``sync`` are (``custom`` when none)."""
    return next((k for k, v in SYNC_PRESETS.items() if v == sync), "custom")


@dataclass(frozen=True)
class PacingConfig:
    """Bounds and dead bands of the pacing advice."""

    #: The reply delay advised is bounded to this range (ms).
    min_reply_delay_ms: float = 150.0
    max_reply_delay_ms: float = 1500.0
    #: Advised delay before the user's own gap habit is known (ms).
    default_reply_delay_ms: float = 250.0
    #: Rate matching dead band: the just-noticeable difference of tempo is about 10 %.
    rate_dead_band: float = 0.10
    #: Loudness matching dead band (dB) and limit of the advice (dB).
    loudness_dead_band_db: float = 2.0
    max_loudness_offset_db: float = 6.0
    #: Limit of the pitch advice (semitones).
    max_f0_offset_st: float = 4.0

    def validate(self) -> None:
        _in_range(self, "pacing", "min_reply_delay_ms", 0.0, 5000.0, " ms")
        _in_range(self, "pacing", "max_reply_delay_ms", 0.0, 10000.0, " ms")
        if self.max_reply_delay_ms < self.min_reply_delay_ms:
            raise ProsyncError(f"pacing.max_reply_delay_ms={self.max_reply_delay_ms} is below "
                               f"min_reply_delay_ms={self.min_reply_delay_ms}: give a max at least "
                               f"the min (defaults {PacingConfig.min_reply_delay_ms:g} and "
                               f"{PacingConfig.max_reply_delay_ms:g})")
        if not self.min_reply_delay_ms <= self.default_reply_delay_ms <= self.max_reply_delay_ms:
            raise ProsyncError(f"pacing.default_reply_delay_ms={self.default_reply_delay_ms!r} is "
                               f"invalid: use {self.min_reply_delay_ms:g} to "
                               f"{self.max_reply_delay_ms:g} ms, inside the min and max "
                               f"(default {PacingConfig.default_reply_delay_ms:g})")
        _in_range(self, "pacing", "rate_dead_band", 0.0, 1.0, " (a fraction: 0.10 is 10 %)")
        _in_range(self, "pacing", "loudness_dead_band_db", 0.0, 20.0, " dB")
        _in_range(self, "pacing", "max_loudness_offset_db", 0.0, 40.0, " dB")
        _in_range(self, "pacing", "max_f0_offset_st", 0.0, 24.0, " semitones")


@dataclass(frozen=True)
class EndOfTurnConfig:
    """The end-of-turn hazard (:mod:`prosync.engine.endofturn`): few parameters, searched by
    leave-one-dataset-out on the development conversations (``bench/bench_end_of_turn.py``)."""

    #: ``turn_end`` fires when ``turn_end_prob`` reaches this (0..1): higher waits longer and
    #: interrupts less.
    threshold: float = 0.5
    #: Log-odds of a turn end at the end of an IPU with ``cue_centre`` turn-yielding cues, for a
    #: user with as many hand-overs as pauses so far (a decision offset: ``threshold`` 0.5 then
    #: fires once the silence is longer than ~80 % of this user's pauses).
    bias: float = -1.5
    #: Log-odds per turn-yielding cue (Gravano & Hirschberg 2011: the chance of a switch rises
    #: with the number of cues shown together). 0 here: on the development conversations the
    #: cues do not separate pauses from ends (37 events; ``bench/results/end_of_turn.md``, "Cue
    #: audit": no cue nor a fitted combination above chance held out) and the
    #: leave-one-dataset-out search is flat over bias -3 .. -1.5 and every weight (its best
    #: point moves from run to run), so
    #: the cues are measured and reported with every ``turn_end`` event but move the
    #: probability only when a deployment sets a weight (about 0.6 per cue in G&H's data).
    cue_weight: float = 0.0
    cue_centre: float = 4.0
    #: Population prior of the user's pause durations (log-normal median, s), its spread (sd of
    #: log duration) and its weight in pauses before the user's own pauses dominate.
    prior_pause_s: float = 0.5
    pause_sigma: float = 0.7
    prior_pauses: float = 5.0
    #: Pseudo-counts of turn ends and of pauses each before the user's own counts move their
    #: prior odds of a turn end away from even (per-speaker calibration).
    prior_ends: float = 4.0
    #: Silences shorter than this are not counted among the user's pauses (s).
    min_pause_s: float = 0.2
    #: An IPU shorter than ``fragment_s`` (s) is a fragment (a click, a breath, a cut-off word, a
    #: short "mm"), too short to claim a reply: ``turn_end_prob`` is held at 0 in the silence
    #: after it until that silence reaches ``fragment_wait_s``, then follows the hazard (a
    #: fragment the user does not follow up is still answered). 0 = off; what it does on the
    #: development conversations: ``bench/results/end_of_turn.md``, "Fragment gate".
    fragment_s: float = 0.0
    fragment_wait_s: float = 2.0
    #: Rows are emitted for this much of each silence at most (s).
    horizon_s: float = 3.0

    def validate(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ProsyncError(f"end_of_turn threshold={self.threshold} is invalid: use 0 < threshold < 1")
        if not all(0 < v < math.inf for v in (self.prior_pause_s, self.pause_sigma,
                                               self.prior_pauses, self.prior_ends)):
            raise ProsyncError("end_of_turn prior_pause_s, pause_sigma, prior_pauses and "
                               "prior_ends must be finite and > 0")
        if not 0.0 < self.horizon_s <= 30.0:
            raise ProsyncError(f"end_of_turn horizon_s={self.horizon_s} is invalid: use 0 to 30 s")
        _in_range(self, "end_of_turn", "bias", -10.0, 10.0, " (log-odds)")
        _in_range(self, "end_of_turn", "cue_weight", 0.0, 5.0, " (log-odds per cue)")
        _in_range(self, "end_of_turn", "cue_centre", 0.0, 10.0, " cues")
        _in_range(self, "end_of_turn", "min_pause_s", 0.0, 2.0, " s")
        _in_range(self, "end_of_turn", "fragment_s", 0.0, 2.0, " s")
        _in_range(self, "end_of_turn", "fragment_wait_s", 0.0, 10.0, " s")
        if self.fragment_s > 0 and self.fragment_wait_s > self.horizon_s:
            raise ProsyncError(f"end_of_turn.fragment_wait_s={self.fragment_wait_s:g} is beyond "
                               f"horizon_s={self.horizon_s:g}: after a fragment turn_end would "
                               "never fire: wait at most horizon_s, or lengthen it")


@dataclass(frozen=True)
class Config:
    pitch: PitchConfig = field(default_factory=PitchConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    rate: RateConfig = field(default_factory=RateConfig)
    turns: TurnConfig = field(default_factory=TurnConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    pacing: PacingConfig = field(default_factory=PacingConfig)
    end_of_turn: EndOfTurnConfig = field(default_factory=EndOfTurnConfig)

    @classmethod
    def preset(cls, name: str) -> Config:
        """Default settings with the synchrony of the named preset (``"live"``, ``"research"``)."""
        return cls(sync=SyncConfig.preset(name))

    def with_preset(self, preset: str | None) -> Config:
        """These settings with the synchrony of ``preset`` (unchanged when it is None).

        Raises :class:`ProsyncError` when the synchrony settings were also changed by hand:
        one of the two would be silently ignored.
        """
        if preset is None:
            return self
        if self.sync != SyncConfig() and self.sync != SyncConfig.preset(preset):
            raise ProsyncError(f"preset {preset!r} and custom synchrony settings were both given: "
                               "give either the preset or config.sync, not both")
        return replace(self, sync=SyncConfig.preset(preset))

    def validate(self) -> Config:
        for f in fields(self):
            _numbers(getattr(self, f.name), f.name)
        self.sync.validate()
        self.rate.validate()
        self.pitch.validate()
        self.vad.validate()
        self.turns.validate()
        self.pacing.validate()
        self.end_of_turn.validate()
        return self

    def to_dict(self) -> dict:
        return asdict(self)
