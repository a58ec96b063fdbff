"""Pipecat processors that time and shape the bot's reply by prosync's advice.

With :class:`prosync.pipecat_turn.ProsyncTurnAnalyzer` deciding *whether* the user's turn has
ended, these two decide *when* and *how* the bot answers::

    analyzer = ProsyncTurnAnalyzer()
    pipeline = Pipeline([transport.input(), vad, UserTurnProcessor(...analyzer...), stt, llm,
                         ProsyncTTSPacer(analyzer, tts), tts,
                         ProsyncReplyGate(analyzer), transport.output()])

* :class:`ProsyncReplyGate` (after the TTS) holds the bot's reply until prosync says go:
  ``turn_end`` fired in the user's current silence and that silence has reached the advised
  ``reply_delay_ms`` (:meth:`prosync.agent.AgentSession.reply_go`), so the first bot audio
  frame leaves the user's end of speech by the advised delay (or later, if the LLM and TTS take
  longer). Frames behind held audio wait with it, in order. The audio it lets through is pushed
  into the analyzer's session as the agent's voice (for the pacing of rate and loudness), paced
  by the user's stream: each chunk when the user's audio reaches the moment it plays.
  ``max_hold_s`` bounds the wait.
* :class:`ProsyncTTSPacer` (before the TTS) applies ``target_rate_sps`` and
  ``loudness_offset_db`` through Pipecat's own ``TTSUpdateSettingsFrame`` at the start of each
  reply, where the TTS service's settings have a ``speed`` (a rate multiplier) or ``volume``
  (a gain) field; each item only when its confidence is at least ``min_confidence``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    OutputAudioRawFrame,
    SystemFrame,
    TTSSpeakFrame,
    TTSUpdateSettingsFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from prosync.pipecat_turn import ProsyncTurnAnalyzer

__all__ = ["ProsyncReplyGate", "ProsyncTTSPacer"]


class ProsyncReplyGate(FrameProcessor):
    """Holds the bot's reply audio until prosync's advice says go (see the module doc)."""

    def __init__(self, analyzer: ProsyncTurnAnalyzer, *, max_hold_s: float = 3.0,
                 poll_s: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.analyzer = analyzer
        self.max_hold_s = max_hold_s
        self.poll_s = poll_s
        self._open = False          # this reply has been let through
        self._held: list[tuple[Frame, FrameDirection]] = []
        self._waiter: asyncio.Task | None = None
        #: ``(session time the reply's first audio arrived, session time it was released, the
        #: user's silence at the release)`` per reply, in seconds.
        self.releases: list[tuple[float, float, float]] = []
        self._arrived = float("nan")
        self._agent_q: collections.deque = collections.deque()  # (play position, pcm)
        self._play_pos = 0
        self._feeder: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._flush()
        if isinstance(frame, UserStartedSpeakingFrame):
            self._open = False  # the next reply waits again
        if direction == FrameDirection.DOWNSTREAM and not isinstance(frame, SystemFrame):
            if isinstance(frame, OutputAudioRawFrame) and not self._open and not self._held:
                sess = self.analyzer.agent_session
                self._arrived = sess.position_s() if sess is not None else float("nan")
                self._held.append((frame, direction))
                self._waiter = self.create_task(self._wait_and_release())
                return
            if self._held:
                self._held.append((frame, direction))
                return
        await self._pass(frame, direction)

    async def _pass(self, frame, direction):
        if isinstance(frame, OutputAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            sess = self.analyzer.agent_session
            if sess is not None and not sess.closed:
                pcm = _pcm(frame, sess.sample_rate)
                self._play_pos = max(self._play_pos, int(round(sess.position_s() * sess.sample_rate)))
                self._agent_q.append((self._play_pos, pcm))
                self._play_pos += pcm.size
                if self._feeder is None:
                    self._feeder = self.create_task(self._feed())
        await self.push_frame(frame, direction)

    async def _feed(self):
        """Push the played agent audio into the session as the user's stream reaches it."""
        sess = self.analyzer.agent_session
        try:
            while self._agent_q and not sess.closed:
                pos, pcm = self._agent_q[0]
                if pos <= sess.position_s() * sess.sample_rate:
                    self._agent_q.popleft()
                    sess.push_agent(pcm)
                else:
                    await asyncio.sleep(self.poll_s)
        finally:
            self._feeder = None

    async def _wait_and_release(self):
        sess = self.analyzer.agent_session
        waited = 0.0
        while sess is not None and not sess.reply_go() and waited < self.max_hold_s:
            await asyncio.sleep(self.poll_s)
            waited += self.poll_s
        await self._flush()

    async def _flush(self):
        if not self._held:
            return
        sess = self.analyzer.agent_session
        if sess is not None:
            state = sess.session.end_of_turn_state() or (False, 0.0)
            self.releases.append((self._arrived, sess.position_s(), state[1]))
        self._open = True
        held, self._held = self._held, []
        for f, d in held:
            await self._pass(f, d)


class ProsyncTTSPacer(FrameProcessor):
    """Applies the advised rate and loudness to the TTS at the start of each reply."""

    def __init__(self, analyzer: ProsyncTurnAnalyzer, tts, *, min_confidence: float = 0.5,
                 nominal_rate_sps: float = 4.0, **kwargs):
        super().__init__(**kwargs)
        self.analyzer = analyzer
        self.tts = tts
        self.min_confidence = min_confidence
        self.nominal_rate_sps = nominal_rate_sps
        self._pending = False
        #: The settings deltas sent, in order.
        self.sent: list = []

    def delta(self):
        """The TTS settings delta for the current advice (None when nothing applies)."""
        sess = self.analyzer.agent_session
        adv = sess.pacing() if sess is not None else None
        settings = getattr(self.tts, "_settings", None)
        if adv is None or settings is None:
            return None
        fields = {f.name for f in dataclasses.fields(settings)}
        kw = {}
        if ("speed" in fields and adv.conf_rate >= self.min_confidence
                and math.isfinite(adv.target_rate_sps)):
            agent = sess.session.baselines[sess.speakers[1]].snapshot().rate_sps
            base = agent if math.isfinite(agent) and agent > 0.5 else self.nominal_rate_sps
            cur = settings.speed if isinstance(settings.speed, (int, float)) else 1.0
            kw["speed"] = round(float(cur) * adv.target_rate_sps / base, 3)
        if ("volume" in fields and adv.conf_loudness >= self.min_confidence
                and math.isfinite(adv.loudness_offset_db)):
            kw["volume"] = round(10 ** (adv.loudness_offset_db / 20), 3)
        return type(settings)(**kw) if kw else None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, UserStoppedSpeakingFrame):
            self._pending = True
        elif self._pending and direction == FrameDirection.DOWNSTREAM and isinstance(
                frame, TTSSpeakFrame) or (self._pending and type(frame).__name__ in (
                    "LLMFullResponseStartFrame",)):
            self._pending = False
            d = self.delta()
            if d is not None:
                self.sent.append(d)
                await self.push_frame(TTSUpdateSettingsFrame(delta=d, service=self.tts))
        await self.push_frame(frame, direction)


def _pcm(frame, rate: int) -> np.ndarray:
    x = np.frombuffer(frame.audio, dtype="<i2")
    ch = max(1, int(frame.num_channels))
    if ch > 1:
        x = x[: x.size - x.size % ch].reshape(-1, ch).mean(axis=1).astype(np.int16)
    if int(frame.sample_rate) != rate:
        import soxr

        x = soxr.resample(x, int(frame.sample_rate), rate).astype(np.int16)
    return x
