"""Pipecat adapter (``pip install prosync[pipecat]``): a frame processor that feeds prosync.

Place it where it sees both the user's audio and the agent's (just before the output
transport)::

    pipeline = Pipeline([transport.input(), stt, llm, tts, prosync_proc, transport.output()])

It pushes every :class:`~pipecat.frames.frames.InputAudioRawFrame` as the user and every
:class:`~pipecat.frames.frames.OutputAudioRawFrame` (TTS audio) as the agent into an
:class:`prosync.agent.AgentSession` (the agent's stream is padded with silence up to the
user's time), passes all frames on unchanged, and exposes the advice: :meth:`pacing`,
:meth:`latest`, an ``on_update`` callback and, with ``emit_frames=True``, a
:class:`ProsyncPacingFrame` pushed downstream for every new pacing row (10 per second).

Audio of any rate is resampled to ``sample_rate`` (soxr); multi-channel audio is averaged to
mono. TTS audio is taken at the time it passes the processor: pipecat's TTS services run ahead
of playback, so the agent's timing is approximate by the output transport's buffer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    SystemFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from prosync.agent import AgentSession
from prosync.engine.config import Config
from prosync.engine.pacing import PacingRow
from prosync.engine.session import Update

__all__ = ["ProsyncPacingFrame", "ProsyncProcessor"]


@dataclass
class ProsyncPacingFrame(SystemFrame):
    """The latest pacing advice (a :class:`prosync.engine.pacing.PacingRow`)."""

    advice: PacingRow | None = None


class ProsyncProcessor(FrameProcessor):
    """Feeds prosync with the user's and the agent's audio frames; passes every frame on."""

    def __init__(self, *, sample_rate: int = 16000, config: Config | None = None,
                 on_update: Callable[[Update], None] | None = None, emit_frames: bool = True,
                 two_mics: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.agent_session = AgentSession(self.sample_rate, ("user", "agent"), pad_agent=True,
                                          config=config, two_mics=two_mics, on_update=on_update)
        self.emit_frames = emit_frames
        self._resamplers: dict[tuple[int, int], object] = {}

    # ----------------------------------------------------------------- read back
    def pacing(self) -> PacingRow | None:
        """The latest pacing advice (``None`` during the first 100 ms)."""
        return self.agent_session.pacing()

    def latest(self) -> dict:
        return self.agent_session.latest()

    @property
    def user_speaking(self) -> bool:
        return self.agent_session.user_speaking

    def summary(self) -> dict:
        return self.agent_session.summary()

    # ----------------------------------------------------------------- frames
    def _pcm(self, speaker: int, frame) -> np.ndarray:
        x = np.frombuffer(frame.audio, dtype="<i2")
        ch = max(1, int(frame.num_channels))
        if ch > 1:
            x = x[: x.size - x.size % ch].reshape(-1, ch).mean(axis=1).astype(np.int16)
        sr = int(frame.sample_rate)
        if sr != self.sample_rate:
            import soxr

            key = (speaker, sr)
            rs = self._resamplers.get(key)
            if rs is None:
                rs = self._resamplers[key] = soxr.ResampleStream(sr, self.sample_rate, 1,
                                                                 dtype="int16")
            x = rs.resample_chunk(x)
        return x

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        upd = None
        sess = self.agent_session
        if not sess.closed:
            if isinstance(frame, InputAudioRawFrame):
                upd = sess.push_user(self._pcm(0, frame))
            elif isinstance(frame, OutputAudioRawFrame):
                upd = sess.push_agent(self._pcm(1, frame))
            elif isinstance(frame, (EndFrame, CancelFrame)):
                sess.close()  # nothing is pushed after the end
        await self.push_frame(frame, direction)
        if self.emit_frames and upd is not None and upd.pacing:
            await self.push_frame(ProsyncPacingFrame(advice=upd.pacing[-1]), FrameDirection.DOWNSTREAM)
