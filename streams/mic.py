"""Microphone source: PortAudio input streams through ``sounddevice``.

The PortAudio callback does only this: copy the block's chosen channels into a bounded,
preallocated ring buffer, stamp the block's arrival time (``time.monotonic_ns`` at callback entry
and the callback's own ADC time info), count overflows, and wake the consumer. Features are computed
on the consumer's thread (:meth:`MicSource.read`), so a slow hop can never block capture: when the
consumer falls a whole ring behind, the callback drops the block, counts it, and the consumer
substitutes silence of the same length, so the session's clock stays the wall clock.

One stereo (multichannel) device with a channel per speaker, or two devices with one channel each
(their clocks may drift apart slightly: each speaker is its own stream into the session). Any
device rate: the session resamples. ``sounddevice`` is imported only here, lazily.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from ..engine.errors import ProsyncError

#: How long the ring holds (s): a consumer this far behind loses audio (counted).
RING_S = 8.0
#: Arrival stamps kept per device (blocks).
STAMPS = 8192
#: Drop markers kept per device (distinct overflow episodes between two reads).
DROPS = 256
#: A device that delivers nothing for this long is taken as gone.
STALL_S = 2.0


class DeviceError(RuntimeError):
    """The input device failed or stopped delivering audio during a session."""


def import_sounddevice():
    """``import sounddevice``, turning a missing PortAudio into one actionable line."""
    try:
        import sounddevice as sd
    except OSError:
        raise ProsyncError(
            "PortAudio is not installed, so no microphone can be opened: apt-get install libportaudio2 "
            "(macOS: brew install portaudio)"
        ) from None
    except ImportError:
        raise ProsyncError(
            "the live door needs the sounddevice package: pip install 'prosync[live]'"
        ) from None
    return sd


def input_devices(sd) -> list[dict]:
    """Input-capable devices: ``index, name, hostapi, channels, default_rate, default``.

    PortAudio lists devices only when it initialises: re-initialise to see the current ones
    (call with no stream open)."""
    try:
        sd._terminate()
        sd._initialize()
        devs = sd.query_devices()
        apis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except Exception as exc:  # PortAudioError: no backend at all
        raise ProsyncError(f"cannot list audio devices ({exc}): check the sound system") from None
    out = []
    for d in devs:
        if d["max_input_channels"] > 0:
            out.append({"index": d["index"], "name": d["name"],
                        "hostapi": apis[d["hostapi"]]["name"],
                        "channels": d["max_input_channels"],
                        "default_rate": int(d["default_samplerate"]),
                        "default": d["index"] == default_in})
    return out


def resolve_device(sd, spec) -> dict:
    """An input device by index or by (part of) its name; a clear error if none or several."""
    devs = input_devices(sd)
    if not devs:
        raise ProsyncError("no input devices found: plug in a microphone (prosync devices lists them)")
    s = str(spec).strip()
    if s.isdigit():
        for d in devs:
            if d["index"] == int(s):
                return d
        raise ProsyncError(f"no input device with index {s}: run `prosync devices` to list them")
    exact = [d for d in devs if d["name"].lower() == s.lower()]
    if len(exact) == 1:
        return exact[0]
    part = [d for d in devs if s.lower() in d["name"].lower()]
    if len(part) == 1:
        return part[0]
    if not part:
        raise ProsyncError(f"no input device matches {s!r}: run `prosync devices` to list them")
    names = ", ".join(f"{d['index']}: {d['name']}" for d in part)
    raise ProsyncError(f"{s!r} matches several input devices ({names}): give the index")


class _Ring:
    """Single-producer (callback) single-consumer ring of int16 frames, with arrival stamps."""

    def __init__(self, cap: int, nch: int):
        self.buf = np.zeros((cap, nch), dtype=np.int16)
        self.cap = cap
        self.w = 0        # frames stored (producer)
        self.r = 0        # frames consumed (consumer)
        self.lost = 0     # frames dropped so far (producer): timeline = stored + lost
        # stamps: timeline position after the block, monotonic ns at callback entry, ADC lead (ns)
        self.st_end = np.zeros(STAMPS, dtype=np.int64)
        self.st_ns = np.zeros(STAMPS, dtype=np.int64)
        self.st_adc = np.zeros(STAMPS, dtype=np.int64)
        self.ns = 0
        # drops: stored position where a dropped block belongs, its length
        self.dr_at = np.zeros(DROPS, dtype=np.int64)
        self.dr_n = np.zeros(DROPS, dtype=np.int64)
        self.nd = 0
        self.rd = 0       # drop markers consumed

    def put(self, data, t_ns, adc_ns) -> bool:
        n = data.shape[0]
        if self.w - self.r + n > self.cap:
            if self.nd - self.rd < DROPS:
                i = self.nd % DROPS
                self.dr_at[i] = self.w
                self.dr_n[i] = n
                self.nd += 1
            else:  # markers full (consumer stalled for DROPS blocks): extend the newest
                self.dr_n[(self.nd - 1) % DROPS] += n
            self.lost += n
            ok = False
        else:
            j = self.w % self.cap
            k = min(n, self.cap - j)
            self.buf[j:j + k] = data[:k]
            if k < n:
                self.buf[: n - k] = data[k:]
            self.w += n
            ok = True
        i = self.ns % STAMPS
        self.st_end[i] = self.w + self.lost
        self.st_ns[i] = t_ns
        self.st_adc[i] = adc_ns
        self.ns += 1
        return ok

    def take(self) -> np.ndarray:
        """Everything stored since the last call, with silence where blocks were dropped."""
        w, nd = self.w, self.nd
        parts = []
        pos = self.r
        while self.rd < nd:
            i = self.rd % DROPS
            at, n = int(self.dr_at[i]), int(self.dr_n[i])
            if at > w:
                break
            parts.append(self._copy(pos, at))
            parts.append(np.zeros((n, self.buf.shape[1]), dtype=np.int16))
            pos = at
            self.rd += 1
        parts.append(self._copy(pos, w))
        self.r = w
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _copy(self, a, b):
        j = a % self.cap
        n = b - a
        k = min(n, self.cap - j)
        if k == n:
            return self.buf[j:j + n].copy()
        return np.concatenate([self.buf[j:], self.buf[: n - k]])


@dataclass
class _Where:
    path: str
    channel: int


@dataclass
class Capture:
    """One device stream: which of its channels feed which speakers."""

    device: dict
    channels: list[int]        # 0-based device channels, one per speaker fed
    speakers: list[int]        # speaker indices fed, same order
    ring: _Ring
    stream: object = None
    overflows: int = 0         # PortAudio input-overflow flags (audio lost before the callback)
    callbacks: int = 0
    last_ns: int = 0
    error: str | None = None
    finished: bool = False


class MicSource:
    """Capture one or two speakers from one or two input devices.

    Parameters
    ----------
    devices : one or two device specs (index or name part).
    channels : 1-based channels. One device: one channel per speaker (default 1,2; a mono device
        gives one speaker). Two devices: one channel of each (default 1,1).
    rate : device sample rate in Hz (default: the first device's default rate).
    block_s : PortAudio block duration (s); latency and callback rate trade off.
    """

    def __init__(self, devices, channels=None, rate=None, n_speakers=None, block_s=0.01):
        self.sd = sd = import_sounddevice()
        devs = [resolve_device(sd, d) for d in devices]
        if not 1 <= len(devs) <= 2:
            raise ProsyncError("give one device in devices= (stereo or mono) or two (one speaker each)")
        self.rate = int(rate or devs[0]["default_rate"])
        if self.rate < 8000:
            raise ProsyncError(f"rate={self.rate} is below 8000 Hz: use 16000 or more")
        if len(devs) == 2:
            ch = list(channels or [1, 1])
            if len(ch) != 2:
                raise ProsyncError("with two devices give one channel of each, e.g. channels=1,1")
            plan = [(devs[0], [ch[0] - 1], [0]), (devs[1], [ch[1] - 1], [1])]
        else:
            d = devs[0]
            ch = list(channels or ([1, 2] if d["channels"] >= 2 and n_speakers != 1 else [1]))
            if n_speakers and len(ch) != n_speakers:
                raise ProsyncError(
                    f"{n_speakers} speaker(s) but channels={','.join(map(str, ch))} picks {len(ch)} "
                    "channel(s): give one channel per speaker")
            if len(ch) > 2 or len(set(ch)) != len(ch):
                raise ProsyncError("channels= picks one or two distinct channels, e.g. channels=1,2")
            plan = [(d, [c - 1 for c in ch], list(range(len(ch))))]
        for d, cs, _ in plan:
            bad = [c + 1 for c in cs if not 0 <= c < d["channels"]]
            if bad:
                raise ProsyncError(
                    f"device {d['name']!r} has {d['channels']} input channel(s), so channel "
                    f"{bad[0]} does not exist: pick channels 1 to {d['channels']}")
        self.n_speakers = sum(len(s) for _, _, s in plan)
        self.block = max(1, int(round(block_s * self.rate)))
        cap = int(RING_S * self.rate)
        self.captures = [Capture(d, cs, ss, _Ring(cap, len(cs))) for d, cs, ss in plan]
        self._wake = threading.Event()
        self._started_ns = 0
        #: Samples per speaker handed out by :meth:`blocks`.
        self.pushed = 0
        #: Stop after this many samples per speaker (None: until stopped).
        self.limit: int | None = None
        #: Why capture ended early (a :class:`DeviceError` message), or None.
        self.error: str | None = None
        #: A live source: no length known, the path of each speaker is the device.
        self.total_s = None
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ callback side
    def _callback_for(self, cap: Capture):
        ring = cap.ring
        chans = cap.channels
        wake = self._wake
        contiguous = chans == list(range(len(chans)))
        now = time.monotonic_ns

        def callback(indata, frames, time_info, status):  # PortAudio thread: copy, stamp, wake
            t = now()
            if status.input_overflow:
                cap.overflows += 1
            try:
                adc = int((time_info.currentTime - time_info.inputBufferAdcTime) * 1e9)
            except Exception:  # noqa: BLE001 - some host APIs give no time info
                adc = 0
            ring.put(indata[:, : len(chans)] if contiguous else indata[:, chans], t, adc)
            cap.callbacks += 1
            cap.last_ns = t
            wake.set()

        return callback

    def _finished_for(self, cap: Capture):
        def finished():
            cap.finished = True
            self._wake.set()
        return finished

    # ------------------------------------------------------------------ consumer side
    def start(self) -> None:
        sd = self.sd
        try:
            for cap in self.captures:
                nch = max(cap.channels) + 1
                cap.stream = sd.InputStream(
                    device=cap.device["index"], channels=nch, samplerate=self.rate, dtype="int16",
                    blocksize=self.block, latency="low", callback=self._callback_for(cap),
                    finished_callback=self._finished_for(cap))
            self._started_ns = time.monotonic_ns()
            for cap in self.captures:
                cap.last_ns = self._started_ns
                cap.stream.start()
        except sd.PortAudioError as exc:
            self.close()
            names = " and ".join(repr(c.device["name"]) for c in self.captures)
            raise ProsyncError(
                f"cannot open {names} at {self.rate} Hz ({exc}): try another rate= (the device's "
                "default is in `prosync devices`) or another device") from None

    def blocks(self, poll_s: float = 0.1):
        """The source of :func:`prosync.engine.loop.run_session`: int16 blocks per speaker as
        they arrive (every ``poll_s`` at least, empty when nothing came, so the loop can stop),
        until :attr:`limit` samples or a device failure (recorded in :attr:`error`)."""
        while True:
            self.wait(poll_s)
            blocks = self.read()
            if self.limit is not None:
                blocks = [b[: max(0, self.limit - self.pushed)] for b in blocks]
            self.pushed += len(blocks[0])
            yield blocks
            if self.limit is not None and self.pushed >= self.limit:
                return
            try:
                self.check()
            except DeviceError as exc:
                self.error = str(exc)
                return

    def describe(self) -> list:
        """Per speaker: the device (``path``) and its 0-based channel, for the audio warnings."""
        out: list = [None] * self.n_speakers
        for cap in self.captures:
            for ch, s in zip(cap.channels, cap.speakers):
                out[s] = _Where(f"device {cap.device['name']!r}", ch)
        return out

    def wait(self, timeout: float) -> None:
        self._wake.wait(timeout)
        self._wake.clear()

    def read(self) -> list[np.ndarray]:
        """New int16 samples per speaker (silence substituted for dropped blocks)."""
        out: list[np.ndarray | None] = [None] * self.n_speakers
        for cap in self.captures:
            x = cap.ring.take()
            for j, s in enumerate(cap.speakers):
                out[s] = np.ascontiguousarray(x[:, j])
        return out

    def check(self) -> None:
        """Raise :class:`DeviceError` if a device stopped, errored or went silent."""
        now = time.monotonic_ns()
        for cap in self.captures:
            name = cap.device["name"]
            st = cap.stream
            if cap.finished or (st is not None and not st.active):
                raise DeviceError(f"input device {name!r} stopped (disconnected or failed)")
            if now - cap.last_ns > STALL_S * 1e9:
                raise DeviceError(
                    f"input device {name!r} delivered no audio for {STALL_S:.0f} s "
                    "(disconnected or failed)")

    def arrival_ns(self, speaker: int, sample: int) -> int:
        """Monotonic ns when ``sample`` (device-rate index, session timeline) reached the callback;
        0 if unknown (its stamp was overwritten)."""
        for cap in self.captures:
            if speaker in cap.speakers:
                r = cap.ring
                n = min(r.ns, STAMPS)
                lo, hi = r.ns - n, r.ns  # stamps lo..hi-1 valid, st_end increasing
                if n == 0 or sample >= r.st_end[(hi - 1) % STAMPS]:
                    return 0
                while lo < hi:  # first stamp whose end > sample
                    mid = (lo + hi) // 2
                    if r.st_end[mid % STAMPS] > sample:
                        hi = mid
                    else:
                        lo = mid + 1
                i = lo % STAMPS
                return int(r.st_ns[i]) if r.st_end[i] > sample else 0
        return 0

    @property
    def dropped_samples(self) -> int:
        return sum(c.ring.lost for c in self.captures)

    @property
    def overflows(self) -> int:
        return sum(c.overflows for c in self.captures)

    def close(self) -> None:
        for cap in self.captures:
            st, cap.stream = cap.stream, None
            if st is not None:
                try:
                    st.abort()
                    st.close()
                except Exception:  # noqa: BLE001 - the device may already be gone
                    pass
