"""``prosync devices``, ``prosync live`` and ``prosync recover``: the live door.

``prosync live`` captures one stereo device (a channel per speaker) or two devices, feeds the same
:class:`~prosync.Session` as offline scoring, and shows a dashboard or writes the metric stream as
JSON lines. With ``--record DIR`` the raw audio (FLAC) and the metrics (an Arrow IPC journal
rolled into Parquet segments) are kept crash-safe; Ctrl-C or ``--duration`` finalise them into the
``prosync score`` layout. ``sounddevice`` is imported only here, inside the handlers.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path

import numpy as np

from prosync.commands._util import add_preset, csv_list
from prosync.engine.errors import ProsyncError
from prosync.streams.sink import Sink

#: A hop whose metric leaves the process later than this beyond the look-ahead is counted late.
LATE_BUDGET_S = 0.030


def register(sub) -> None:
    d = sub.add_parser("devices", help="list audio input devices")
    d.set_defaults(func=cmd_devices)

    s = sub.add_parser("live", help="analyse microphones live: dashboard, JSON lines, recording")
    s.add_argument("--device", action="append", metavar="NAME_OR_INDEX",
                   help="input device (index or part of its name, see `prosync devices`); "
                        "give it twice for one microphone per speaker (default: the system default)")
    s.add_argument("--channels", help="1-based channels: of one device, one per speaker "
                   "(default 1,2); with two devices, one of each (default 1,1)")
    s.add_argument("--rate", type=int, help="device sample rate in Hz (default: the device's)")
    s.add_argument("--speakers", help="comma-separated speaker names (default a,b)")
    s.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of audio")
    s.add_argument("--jsonl", metavar="-", help="write the metric stream as JSON lines to stdout "
                   "(give -) instead of the dashboard")
    s.add_argument("--record", metavar="DIR", help="keep raw audio (FLAC) and metrics in DIR")
    s.add_argument("--profile", metavar="FILE",
                   help="speaker baselines (JSON): loaded if it exists, updated at the end")
    s.add_argument("--block-ms", type=float, default=20.0,
                   help="device block, ms (default 20: CPU and latency trade off)")
    s.add_argument("--segment-s", type=float, default=60.0,
                   help="roll the metric journal into a Parquet segment every S s (default 60)")
    s.add_argument("--latency-log", metavar="FILE.npy", help=argparse_suppress())
    add_preset(s)
    s.set_defaults(func=cmd_live)

    r = sub.add_parser("recover", help="finalise a recording left by a crashed `prosync live`")
    r.add_argument("dir", metavar="DIR")
    r.set_defaults(func=cmd_recover)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


# ------------------------------------------------------------------------------ devices
def cmd_devices(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from prosync.streams.mic import import_sounddevice, input_devices

    devs = input_devices(import_sounddevice())
    t = Table(title="audio input devices")
    for col in ("index", "name", "host API", "channels", "default rate Hz", "default"):
        t.add_column(col, justify="right" if col in ("index", "channels", "default rate Hz") else "left")
    for d in devs:
        t.add_row(str(d["index"]), d["name"], d["hostapi"], str(d["channels"]),
                  str(d["default_rate"]), "*" if d["default"] else "")
    c = Console()
    if devs:
        c.print(t)
    else:
        c.print("no input devices found: plug in a microphone")
    return 0


# ------------------------------------------------------------------------------ recover
def cmd_recover(args) -> int:
    from prosync.streams.journal import finalize

    d = Path(args.dir)
    if not d.is_dir():
        raise ProsyncError(f"{d}: no such folder: give the folder given to --record")
    if not (d / "metrics").is_dir():
        raise ProsyncError(f"{d} has no metrics journal (metrics/): nothing to recover")
    for f in finalize(d):
        print(f"wrote {f}")
    return 0


# ------------------------------------------------------------------------------ live
class _Latency:
    """Per-hop latency: hop's last sample entering the callback -> its metric leaving."""

    def __init__(self, src, rate, lookahead_s, n_speakers, keep_log):
        self.src = src
        self.rate = rate
        self.lookahead_s = lookahead_s
        self.n_speakers = n_speakers
        self.recent = np.full(2000, np.nan)   # last 20 s, for the dashboard
        self.i = 0
        self.late = 0
        self.log = [] if keep_log else None

    def frames(self, t_s: np.ndarray, emit_ns: int) -> None:
        for t in t_s:
            k = int(round(t / 0.01 - 0.5))
            j = math.ceil((k + 1) * 0.01 * self.rate) - 1   # the hop's last sample
            arr = max(self.src.arrival_ns(s, j) for s in range(self.n_speakers))
            if arr == 0:
                continue          # silence padding at the end, or a stamp already overwritten
            lat = (emit_ns - arr) / 1e9
            self.recent[self.i % self.recent.size] = lat
            self.i += 1
            if lat - self.lookahead_s > LATE_BUDGET_S:
                self.late += 1
            if self.log is not None:
                self.log.append((k, arr, emit_ns))

    def pct(self, q):
        v = self.recent[np.isfinite(self.recent)]
        return float(np.percentile(v, q)) if v.size else float("nan")


class _LatencySink(Sink):
    """Stamps each update's frames as they leave (after the sinks before it)."""

    def __init__(self, lat: _Latency):
        super().__init__()
        self.lat = lat

    def _write(self, upd) -> None:
        if upd.frames:
            self.lat.frames(next(iter(upd.frames.values()))["t_s"], time.monotonic_ns())


class _DashboardSink(Sink):
    def __init__(self, dash):
        super().__init__()
        self.dash = dash

    def _write(self, upd) -> None:
        self.dash.update(upd)


def cmd_live(args) -> int:
    from prosync.engine.loop import run_session
    from prosync.engine.session import Session
    from prosync.engine.session_sync import SESSION_TEST_EVERY_S
    from prosync.streams.mic import MicSource

    speakers = csv_list(args.speakers)
    devices = args.device or [_default_device()]
    channels = csv_list(args.channels, int, "--channels")
    if args.jsonl not in (None, "-"):
        raise ProsyncError(f"--jsonl {args.jsonl}: only stdout is supported, give --jsonl -")
    if args.duration is not None and not args.duration > 0:
        raise ProsyncError(f"--duration {args.duration} must be positive seconds")
    src = MicSource(devices, channels, args.rate, len(speakers) if speakers else None,
                    block_s=args.block_ms / 1000)
    names = tuple(speakers) if speakers else ("a", "b")[: src.n_speakers]
    if len(names) != src.n_speakers:
        raise ProsyncError(f"--speakers names {len(names)} speaker(s) but {src.n_speakers} "
                           "channel(s) are captured: give one name per channel")
    rate = src.rate
    src.limit = int(round(args.duration * rate)) if args.duration else None
    from prosync.calibration.baseline import open_profile

    # constructing the session loads the kernels (prosync.engine.warm): the first hops are not late
    session = Session(names, sample_rate=rate, two_mics=len(names) == 2,
                      profile=open_profile(args.profile, names), preset=args.preset)
    devices_md = ",".join(c.device["name"] for c in src.captures)
    sinks = []
    rec = None
    lat = _Latency(src, rate, session.lookahead_s, len(names), args.latency_log is not None)
    jsonl = dash = live = None
    if args.jsonl == "-":
        from prosync.streams.jsonl import JsonlSink

        jsonl = JsonlSink(sys.stdout, tolerate_closed=True)
        sinks.append(jsonl)
    else:
        from rich.console import Console
        from rich.live import Live

        from prosync.dashboard import Dashboard

        dash = Dashboard(names, session.lookahead_s,
                         title=f"prosync live ({devices_md}, {rate} Hz)")
        from prosync.engine.summary import settings
        from prosync.engine.synchrony import WINDOW_P_CALIBRATED

        dash.window_p_calibrated = settings(session.config)["preset"] in WINDOW_P_CALIBRATED
        live = Live(dash.render(), console=Console(), auto_refresh=False, transient=False)
        sinks.append(_DashboardSink(dash))
    sinks.append(_LatencySink(lat))
    if args.record:
        from prosync.report import ReportSink
        from prosync.streams.journal import Recorder

        rec = Recorder(args.record, names, rate, one_file=len(src.captures) == 1,
                       segment_s=args.segment_s, extra_md={"devices": devices_md})
        sinks.append(rec)
        sinks.append(ReportSink(args.record, names, config=session.config,
                                title=f"prosync live: {' & '.join(names)}"))

    stop = {"why": None}

    def on_signal(signum, frame):  # noqa: ARG001 - stop between two updates, never inside one
        stop["why"] = "interrupted" if signum == signal.SIGINT else "terminated"

    next_draw = [0.0]

    def redraw(done_s, total_s):  # noqa: ARG001 - after every block of audio
        now = time.monotonic()
        if live is not None and now >= next_draw[0]:
            dash.stats = {"dropped_s": src.dropped_samples / rate, "overflows": src.overflows,
                          "late_hops": lat.late, "hops": lat.i, "p50_ms": lat.pct(50) * 1000}
            live.update(dash.render(), refresh=True)
            next_draw[0] = now + 0.25

    def should_stop():
        if jsonl is not None and jsonl.broken:
            stop["why"] = "stdout closed"
        return stop["why"]

    old_term = signal.signal(signal.SIGTERM, on_signal)
    old_int = signal.signal(signal.SIGINT, on_signal)
    files = []
    try:
        src.start()
        if live is not None:
            live.start()
        try:  # Ctrl-C and SIGTERM only set the flag: the session is finished normally
            # the session test every 15 s, off the live loop: its rows go to JSONL and the dashboard
            res = run_session(src, session, sinks, progress=redraw, stop=should_stop,
                              session_test_every_s=SESSION_TEST_EVERY_S,
                              extra=lambda _: {"live": _live_stats(src, lat, rate, src.pushed),
                                               **({"inputs": rec.inputs()} if rec else {})})
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)   # let the finalisation finish
            src.close()
            if live is not None:
                live.stop()
        files = [f for f in res.files if args.record]
        if args.latency_log:
            np.save(args.latency_log, np.array(lat.log, dtype=np.int64).reshape(-1, 3))
        if args.profile:
            from prosync.streams.profile import update_profile

            files.append(update_profile(args.profile, res.baselines))
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    st = _live_stats(src, lat, rate, src.pushed)
    msg = (f"prosync live: {st['audio_s']:.1f} s captured; dropped audio {st['dropped_s']:.2f} s, "
           f"{st['overflows']} device overflows, {st['late_hops']} of {lat.i} hops late "
           f"(over {LATE_BUDGET_S * 1000:.0f} ms past the look-ahead); latency p50 "
           f"{_fmt(st['latency_p50_ms'])} ms, p99 {_fmt(st['latency_p99_ms'])} ms "
           f"(look-ahead {lat.lookahead_s * 1000:.1f} ms)")
    print(msg, file=sys.stderr)
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for f in files:
        print(f"wrote {f}", file=sys.stderr)
    if src.error:
        where = f"; the recording in {args.record} is finalised up to then" if args.record else ""
        print(f"prosync: error: {src.error} at {src.pushed / rate:.1f} s: check the device and its "
              f"connection{where}", file=sys.stderr)
        return 1
    return 0


def _live_stats(src, lat, rate, pushed) -> dict:
    def ms(x):
        return None if not math.isfinite(x) else round(x * 1000, 2)

    return {"audio_s": pushed / rate, "device_rate_hz": rate,
            "dropped_s": src.dropped_samples / rate, "overflows": src.overflows,
            "late_hops": lat.late, "late_budget_ms_beyond_lookahead": LATE_BUDGET_S * 1000,
            "latency_p50_ms": ms(lat.pct(50)), "latency_p99_ms": ms(lat.pct(99))}


def _fmt(x):
    return "-" if x is None else f"{x:.1f}"


def _default_device():
    from prosync.streams.mic import import_sounddevice

    sd = import_sounddevice()
    idx = sd.default.device[0]
    if idx is None or idx < 0:
        raise ProsyncError("no default input device: give --device (see `prosync devices`)")
    return str(idx)
