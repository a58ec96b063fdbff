"""The reference WebSocket client (``prosync stream``): a file's audio streamed to a server in
real time (or faster), every message received kept. Protocol: ``docs/PROTOCOL.md``.
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np

from ..engine.errors import ProsyncError
from .ws_protocol import dumps as _dumps


def _not_json(token: str):
    raise ProsyncError(f"the server sent {token}, which is not JSON: upgrade the server")


def read_stereo_pcm16(path) -> tuple[np.ndarray, int]:
    """A file's audio as ``(n, 2)`` int16 (mono: the agent channel is silence) and its rate."""
    from pathlib import Path

    from .files import _open

    with _open(Path(path)) as f:
        sr, ch = f.samplerate, f.channels
        if ch > 2:
            raise ProsyncError(f"{path}: has {ch} channels: give a stereo file (user, agent)")
        if f.frames == 0:
            raise ProsyncError(f"{path}: contains no audio samples: check the recording")
        if f.subtype in ("PCM_16", "PCM_S8", "PCM_U8"):
            x = f.read(dtype="int16", always_2d=True)
        else:  # quantise to the protocol's PCM16
            x = f.read(dtype="float32", always_2d=True)
            if not np.isfinite(x).all():
                raise ProsyncError(f"{path}: contains NaN or Inf samples: re-export it")
            x = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    if sr < 8000:
        raise ProsyncError(f"{path}: sample rate {sr} Hz is below 8000 Hz: convert it")
    if x.shape[1] == 1:
        x = np.concatenate([x, np.zeros_like(x)], axis=1)
    return np.ascontiguousarray(x), sr


async def stream_audio(url: str, pcm: np.ndarray, sample_rate: int, *, speed: float = 1.0,
                       block_ms: float = 20.0, token: str | None = None, start: dict | None = None,
                       on_message=None, sent_times: list | None = None, connect_kw=None) -> list[dict]:
    """Stream ``pcm`` (``(n, 2)`` int16: user, agent) to a server; return every message received.

    ``speed``: 1 = real time, 2 = twice as fast, 0 = as fast as possible. ``on_message(msg,
    t_recv)`` is called for each message as it arrives. ``sent_times`` (if a list) receives
    ``(end_sample, t_sent)`` per block pair, for latency measurements.
    """
    from websockets.asyncio.client import connect

    if token:
        url += ("&" if "?" in url else "?") + "token=" + token
    block = max(1, int(round(sample_rate * block_ms / 1000.0)))
    msgs: list[dict] = []
    kw = {"max_size": None, "compression": None, **(connect_kw or {})}
    async with connect(url, **kw) as ws:
        async def reader():
            async for text in ws:
                m = json.loads(text, parse_constant=_not_json)
                msgs.append(m)
                if on_message is not None:
                    on_message(m, time.perf_counter())

        rtask = asyncio.create_task(reader())
        await ws.send(_dumps({"type": "start", "sample_rate": int(sample_rate),
                              **(start or {})}))
        u = pcm[:, 0].astype("<i2").tobytes()
        a = pcm[:, 1].astype("<i2").tobytes()
        n = pcm.shape[0]
        t0 = time.perf_counter()
        for k, i in enumerate(range(0, n, block)):
            j = min(n, i + block)
            if speed > 0:
                due = t0 + k * block / sample_rate / speed
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await ws.send(b"\x00" + u[2 * i:2 * j])
            await ws.send(b"\x01" + a[2 * i:2 * j])
            if sent_times is not None:
                sent_times.append((j, time.perf_counter()))
            if rtask.done():
                break
        if not rtask.done():
            await ws.send(_dumps({"type": "stop"}))
        await rtask
    return msgs
