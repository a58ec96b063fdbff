"""Terminal dashboard of a live session (rich), refreshed a few times a second.

Per speaker: level meter, voice activity, F0 and speech rate with short sparklines; the current
turn state and the last gaps; synchrony per feature with its z against surrogates; the pacing
advice; dropped audio and late hops. Rendering only reads a small state updated from the
session's updates; it never touches the audio path.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

SPARK = "▁▂▃▄▅▆▇█"
#: Points per sparkline (one per 100 ms: the last 4 s).
SPARK_N = 40


def sparkline(values, lo=None, hi=None) -> str:
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return ""
    ok = np.isfinite(v)
    if not ok.any():
        return " " * v.size
    lo = np.nanmin(v) if lo is None else lo
    hi = np.nanmax(v) if hi is None else hi
    span = max(hi - lo, 1e-9)
    out = []
    for x, good in zip(v, ok):
        if not good:
            out.append(" ")
        else:
            out.append(SPARK[int(np.clip((x - lo) / span * (len(SPARK) - 1), 0, len(SPARK) - 1))])
    return "".join(out)


def meter(db: float, width: int = 20, lo: float = -70.0, hi: float = 0.0) -> str:
    if not math.isfinite(db):
        return "·" * width
    n = int(round(np.clip((db - lo) / (hi - lo), 0, 1) * width))
    return "█" * n + "·" * (width - n)


class _Speaker:
    def __init__(self):
        self.level = -120.0
        self.speech = False
        self.f0 = float("nan")
        self.rate = float("nan")
        self.f0_hist: deque = deque(maxlen=SPARK_N)
        self.rate_hist: deque = deque(maxlen=SPARK_N)
        self._acc_f0: list = []
        self._acc_rate: list = []


class Dashboard:
    """State of the screen, fed with :meth:`update`; :meth:`render` returns a rich renderable."""

    def __init__(self, speakers, lookahead_s: float, title: str = "prosync live"):
        self.speakers = tuple(speakers)
        self.sp = {s: _Speaker() for s in self.speakers}
        self.lookahead_s = lookahead_s
        self.title = title
        self.t_s = 0.0
        self.floor = "silence"
        self.gaps: deque = deque(maxlen=5)
        self.sync: dict = {}
        self.pacing = None
        self.stats: dict = {}

    def update(self, upd) -> None:
        for spk, c in upd.frames.items():
            if not len(c):
                continue
            s = self.sp[spk]
            self.t_s = max(self.t_s, float(c["t_s"][-1]))
            s.level = float(np.max(c["energy_db"][-10:]))
            s.speech = bool(c["speech"][-1])
            f0 = c["f0_hz"][c["voiced"]]
            if f0.size:
                s.f0 = float(f0[-1])
            s.rate = float(c["rate_sps"][-1])
            for k in range(len(c)):  # 10 frames -> one sparkline point
                s._acc_f0.append(c["f0_hz"][k] if c["voiced"][k] else np.nan)
                s._acc_rate.append(c["rate_sps"][k])
                if len(s._acc_f0) == 10:
                    a = np.asarray(s._acc_f0, dtype=float)
                    s.f0_hist.append(np.nanmedian(a) if np.isfinite(a).any() else np.nan)
                    s.rate_hist.append(float(np.mean(s._acc_rate)))
                    s._acc_f0.clear()
                    s._acc_rate.clear()
        talking = [s for s in self.speakers if self.sp[s].speech]
        self.floor = ("overlap" if len(talking) > 1 else f"{talking[0]} speaking" if talking
                      else "silence")
        for e in upd.events:
            if e.kind in ("gap", "overlap_between"):
                self.gaps.append((e.speaker_before, e.speaker_after, e.fto_s))
        for r in upd.synchrony:
            self.sync[r.feature] = r
        if upd.pacing:
            self.pacing = upd.pacing[-1]

    def render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        st = self.stats
        head = Text(f"{self.title}   t = {self.t_s:7.1f} s   {self.floor}", style="bold")
        t = Table(box=None, pad_edge=False, expand=False)
        for col in ("speaker", "level dBFS", "", "VAD", "F0 Hz", "F0 (4 s)", "rate syl/s",
                    "rate (4 s)"):
            t.add_column(col)
        for name in self.speakers:
            s = self.sp[name]
            t.add_row(name, f"{s.level:6.1f}", meter(s.level),
                      Text("speech", style="bold green") if s.speech else Text("  -   ", style="dim"),
                      "-" if not math.isfinite(s.f0) else f"{s.f0:5.0f}",
                      sparkline(s.f0_hist, 60, 400),
                      "-" if not math.isfinite(s.rate) else f"{s.rate:4.1f}",
                      sparkline(s.rate_hist, 0, 8))
        gaps = ", ".join(f"{a}→{b} {fto * 1000:+.0f} ms" for a, b, fto in self.gaps) or "none yet"
        parts = [head, t, Text(f"last floor transfers: {gaps}")]
        if len(self.speakers) == 2:
            sy = Table(title="synchrony (latest window; + lag: second follows)", box=None)
            for col in ("feature", "r lag 0", "peak r", "lag s", "z", ""):
                sy.add_column(col, justify="right")
            for f in ("f0", "energy", "rate", "vad"):
                r = self.sync.get(f)
                if r is None:
                    sy.add_row(f, "-", "-", "-", "-", Text("warming up", style="dim"))
                    continue
                sig = math.isfinite(r.z) and r.z > 1.96  # the window's surrogate p < 0.025
                sy.add_row(f, _g(r.r_lag0), _g(r.r_peak), _g(r.lag_s, "+.1f"), _g(r.z, "+.1f"),
                           Text("window p<0.025", style="bold") if sig else "")
            parts.append(sy)
            p = self.pacing
            if p is not None:
                parts.append(Text(
                    f"pacing for {self.speakers[1]}: reply after {_g(p.reply_delay_ms, '.0f')} ms, "
                    f"rate {_g(p.target_rate_sps, '.1f')} syl/s, loudness {_g(p.loudness_offset_db, '+.1f')}"
                    f" dB, pitch {_g(p.f0_offset_st, '+.1f')} st"
                    + ("  (warming up)" if p.warming_up else "")))
        if st:
            parts.append(Text(
                f"dropped audio {st.get('dropped_s', 0.0):.2f} s ({st.get('overflows', 0)} overflows)   "
                f"late hops {st.get('late_hops', 0)}   latency p50 {st.get('p50_ms', float('nan')):.0f} ms "
                f"(look-ahead {self.lookahead_s * 1000:.0f} ms)", style="dim"))
        return Group(*parts)


def _g(x, spec="+.2f"):
    return "-" if x is None or not math.isfinite(x) else format(x, spec)
