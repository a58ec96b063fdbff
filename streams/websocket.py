"""The WebSocket door (protocol: ``docs/PROTOCOL.md``), split by job:

* :mod:`prosync.streams.ws_protocol`: the messages (parsing the client's, building the server's);
* :mod:`prosync.streams.ws_server`: one connection = one session, a sink of the engine's
  :class:`~prosync.engine.duplex.Duplex`; :class:`MetricsServer`;
* :mod:`prosync.streams.ws_serve`: running it (warm-up, memory trimming, worker processes);
* :mod:`prosync.streams.ws_client`: the reference client (``prosync stream``).

This module gathers their public names.
"""

from .ws_client import read_stereo_pcm16, stream_audio
from .ws_protocol import DEFAULT_HOST, DEFAULT_PORT, PROTOCOL_VERSION, START_KEYS, metrics_body
from .ws_serve import TRIM_INTERVAL_S, serve, warm_up
from .ws_server import (
    COALESCE,
    INLINE_MAX_S,
    Connection,
    MetricsServer,
    ServerOptions,
    exposure_warning,
    is_loopback,
)

__all__ = ["COALESCE", "DEFAULT_HOST", "DEFAULT_PORT", "INLINE_MAX_S", "PROTOCOL_VERSION",
           "START_KEYS", "TRIM_INTERVAL_S", "Connection", "MetricsServer", "ServerOptions",
           "exposure_warning", "is_loopback", "metrics_body", "read_stereo_pcm16", "serve",
           "stream_audio", "warm_up"]
