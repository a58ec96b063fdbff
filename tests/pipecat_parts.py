"""Pipecat stand-ins for the pipeline tests: a file-fed input transport, a local espeak-ng TTS
behind Pipecat's TTS service interface, a responder in place of the LLM, a recorder."""

from __future__ import annotations

import asyncio
import io
import subprocess
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
import soxr
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_transport import TransportParams
from pipecat.utils.types import NOT_GIVEN

SR = 16000
FRAME = 320  # 20 ms


def espeak(text: str, wpm: int = 175, amp: int = 100, pitch: int = 50) -> np.ndarray:
    """``text`` spoken by espeak-ng, int16 at 16 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(wpm), "-a", str(amp), "-p",
                          str(pitch), "--stdout", text], capture_output=True, check=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    return (np.clip(soxr.resample(x, sr, SR), -1, 1) * 32767).astype(np.int16)


class FileInputTransport(BaseInputTransport):
    """Plays int16 samples into the pipeline as InputAudioRawFrames, 20 ms per 20 ms."""

    def __init__(self, samples: np.ndarray, **kwargs):
        super().__init__(TransportParams(audio_in_enabled=True, audio_in_sample_rate=SR), **kwargs)
        self.samples = samples
        self.done = asyncio.Event()
        self._task = None

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)
        self._task = self.create_task(self._play())

    async def _play(self):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for k, i in enumerate(range(0, self.samples.size - FRAME + 1, FRAME)):
            chunk = self.samples[i:i + FRAME].tobytes()
            await self.push_audio_frame(InputAudioRawFrame(audio=chunk, sample_rate=SR,
                                                           num_channels=1))
            await asyncio.sleep(max(0.0, t0 + (k + 1) * FRAME / SR - loop.time()))
        self.done.set()


@dataclass
class EspeakSettings(TTSSettings):
    """``speed``: rate multiplier (1.0 = 175 words per minute); ``volume``: gain."""

    speed: float | None = field(default_factory=lambda: NOT_GIVEN)
    volume: float | None = field(default_factory=lambda: NOT_GIVEN)


class EspeakTTSService(TTSService):
    """espeak-ng behind Pipecat's TTS service interface (a local stand-in for a real TTS)."""

    Settings = EspeakSettings

    def __init__(self, **kwargs):
        super().__init__(push_start_frame=True, push_stop_frames=True, sample_rate=SR,
                         settings=EspeakSettings(model=None, voice=None, language=None,
                                                 speed=1.0, volume=1.0), **kwargs)

    def can_generate_metrics(self) -> bool:
        return False

    async def run_tts(self, text: str, context_id: str):
        wpm = int(np.clip(175 * float(self._settings.speed), 80, 450))
        amp = int(np.clip(100 * float(self._settings.volume), 10, 200))
        x = await asyncio.to_thread(espeak, text, wpm, amp)
        for i in range(0, x.size, FRAME):
            yield TTSAudioRawFrame(audio=x[i:i + FRAME].tobytes(), sample_rate=SR,
                                   num_channels=1, context_id=context_id)


class Responder(FrameProcessor):
    """Stands in for the LLM: answers every user turn with the next line."""

    def __init__(self, lines, **kwargs):
        super().__init__(**kwargs)
        self.lines = list(lines)
        self.turns = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, UserStoppedSpeakingFrame):
            self.turns += 1
            await self.push_frame(TTSSpeakFrame(self.lines[(self.turns - 1) % len(self.lines)]))


class Recorder(FrameProcessor):
    """The user's stream time (the analyzer's session) of every bot audio frame reaching it."""

    def __init__(self, analyzer, **kwargs):
        super().__init__(**kwargs)
        self.analyzer = analyzer
        self.audio_t: list[float] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            self.audio_t.append(self.analyzer.agent_session.position_s("user"))
        await self.push_frame(frame, direction)
