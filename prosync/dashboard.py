"""Terminal dashboard of a live session (rich), refreshed a few times a second.

Per speaker: level meter, voice activity, F0 and speech rate with short sparklines; the current
turn state and the last gaps; synchrony per feature with its z against surrogates; the pacing
advice; dropped audio and late hops. Rendering only reads a small state updated from the
session's updates; it never touches the audio path.

The layout is computed for the terminal's size at every refresh: each line is laid out to the
width (meters and sparklines shrink, labels get shorter) and cropped, never wrapped, so the
screen keeps its shape from 80 x 24 up. Values go stale on purpose: a speaker's F0 is shown only
while they have voiced frames in the last :data:`F0_HOLD_S`.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

SPARK = "▁▂▃▄▅▆▇█"
#: Drawn where a sparkline has no value (unvoiced, no data): not a space, so a line never
#: breaks inside a sparkline and "no value" is told from a low one.
MISSING = "·"
#: Frames (10 ms) per sparkline point.
SPARK_FRAMES = 20
#: Points kept per sparkline (one per 200 ms: the last 16 s); a narrow screen shows the latest.
SPARK_N = 80
#: A speaker's F0 is shown while their last voiced frame is at most this old (s), then "–".
F0_HOLD_S = 0.5
#: The smallest screen the layout is made for.
MIN_WIDTH, MIN_HEIGHT = 80, 24


def sparkline(values, lo=None, hi=None) -> str:
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return ""
    ok = np.isfinite(v)
    if not ok.any():
        return MISSING * v.size
    lo = np.nanmin(v) if lo is None else lo
    hi = np.nanmax(v) if hi is None else hi
    span = max(hi - lo, 1e-9)
    out = []
    for x, good in zip(v, ok):
        if not good:
            out.append(MISSING)
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
        self.f0_t = -math.inf       # time of the last voiced frame
        self.rate = float("nan")
        self.f0_hist: deque = deque(maxlen=SPARK_N)
        self.rate_hist: deque = deque(maxlen=SPARK_N)
        self._acc_f0: list = []
        self._acc_rate: list = []


class Dashboard:
    """State of the screen, fed with :meth:`update`; :meth:`render` returns a rich renderable
    that lays itself out for the console's size each time it is drawn."""

    def __init__(self, speakers, lookahead_s: float, title: str = "prosync live"):
        self.speakers = tuple(speakers)
        self.sp = {s: _Speaker() for s in self.speakers}
        self.lookahead_s = lookahead_s
        self.title = title
        self.t_s = 0.0
        self.floor = "silence"
        self.gaps: deque = deque(maxlen=5)
        self.sync: dict = {}
        #: feature -> SessionSyncRow: the session-level test over the session so far, from the
        #: updates' ``session_sync`` rows (computed off the live loop: ``Duplex``'s
        #: ``session_test_every_s``)
        self.session: dict = {}
        #: False where the preset's window p is not calibrated: no window is called significant
        self.window_p_calibrated = True
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
            v = c["voiced"] & np.isfinite(c["f0_hz"])
            if v.any():
                k = int(np.flatnonzero(v)[-1])
                s.f0, s.f0_t = float(c["f0_hz"][k]), float(c["t_s"][k])
            s.rate = float(c["rate_sps"][-1])
            for k in range(len(c)):  # SPARK_FRAMES frames -> one sparkline point
                s._acc_f0.append(c["f0_hz"][k] if c["voiced"][k] else np.nan)
                s._acc_rate.append(c["rate_sps"][k])
                if len(s._acc_f0) == SPARK_FRAMES:
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
        for r in upd.session_sync:
            self.session[r.feature] = r
        if upd.pacing:
            self.pacing = upd.pacing[-1]

    def f0_now(self, name: str) -> float:
        """The speaker's F0 if they were voiced in the last :data:`F0_HOLD_S`, else NaN."""
        s = self.sp[name]
        return s.f0 if self.t_s - s.f0_t <= F0_HOLD_S else float("nan")

    def render(self):
        return _Screen(self)

    # ------------------------------------------------------------------ layout
    def lines(self, width: int, height: int) -> list:
        """The screen as one-line texts no wider than ``width``, at most ``height`` of them."""
        from rich.text import Text

        w = max(int(width), 20)
        name_w = min(max(len(n) for n in self.speakers), 10)
        # speaker line: name level meter VAD "F0" f0 spark "rate" rate spark
        fixed = name_w + 1 + 6 + 1 + 1 + 6 + 1 + 4 + 1 + 1 + 5 + 4 + 1
        meter_w = int(np.clip((w - fixed) // 5, 6, 20))
        spark_w = int(np.clip((w - fixed - meter_w) // 2, 4, SPARK_N))
        out = [Text(f"{self.title}  t = {self.t_s:6.1f} s  {self.floor}", style="bold")]
        span = f"last {spark_w * SPARK_FRAMES / 100:g} s"
        out.append(Text(f"{'':{name_w}} {'level':>6} {'':{meter_w}} {'VAD':6} "
                        f"{'F0 Hz, ' + span:{5 + spark_w}} {'rate syl/s, ' + span:{5 + spark_w}}",
                        style="dim"))
        for name in self.speakers:
            s = self.sp[name]
            f0 = self.f0_now(name)
            line = Text(f"{name[:name_w]:{name_w}} {s.level:6.1f} ")
            line.append(meter(s.level, meter_w), style="green" if s.speech else "dim")
            line.append(" ")
            line.append("speech" if s.speech else "  –   ", style="bold green" if s.speech else "dim")
            line.append(f" {'–' if not math.isfinite(f0) else format(f0, '4.0f'):>4} ")
            line.append(sparkline(list(s.f0_hist)[-spark_w:], 60, 400).rjust(spark_w, MISSING),
                        style="cyan")
            line.append(f" {'–' if not math.isfinite(s.rate) else format(s.rate, '4.1f'):>4} ")
            line.append(sparkline(list(s.rate_hist)[-spark_w:], 0, 8).rjust(spark_w, MISSING),
                        style="magenta")
            out.append(line)
        gaps = [f"{a}→{b} {fto * 1000:+.0f} ms" for a, b, fto in self.gaps]
        text = "floor transfers: "
        while gaps and len(text + ", ".join(gaps)) > w:  # the latest that fit
            gaps.pop(0)
        out.append(Text(text + (", ".join(gaps) or "none yet")))
        if len(self.speakers) == 2:
            out += self._sync_lines(w)
        out += self._footer(w)
        return self._fit(out, w, height)

    def _sync_lines(self, w: int) -> list:
        from rich.text import Text

        out = [Text("synchrony, latest window (+ lag: second follows); session so far",
                    style="bold"),
               Text(f"{'':8}{'r lag 0':>8}{'peak r':>8}{'lag s':>7}{'z':>6}{'sess r':>8}"
                    f"{'p':>6}", style="dim")]
        why = None
        for f in ("f0", "energy", "rate", "vad"):
            t = self.session.get(f)
            sess = f"{_g(t.r if t else math.nan):>8}{_g(t.p if t else math.nan, '.2f'):>6}"
            if t is not None and t.note and why is None:
                # the note's parenthesis (what was planted, where) is for the summary: a
                # dashboard line is cropped at the terminal's width
                why = f"session test: {t.note.split(' (')[0]}"
            r = self.sync.get(f)
            if r is None:
                out.append(Text(f"{f:8}{'–':>8}{'–':>8}{'–':>7}{'–':>6}{sess}  ")
                           + Text("warming up", style="dim"))
                continue
            line = Text(f"{f:8}{_g(r.r_lag0):>8}{_g(r.r_peak):>8}{_g(r.lag_s, '+.1f'):>7}"
                        f"{_g(r.z, '+.1f'):>6}{sess}  ")
            if self.window_p_calibrated and math.isfinite(r.z) and r.z > 1.96:  # p < 0.025
                line.append("window p<0.025", style="bold")
            elif not math.isfinite(r.r_lag0):
                line.append("too few values from a speaker", style="dim")
            out.append(line)
        if why:
            out.append(Text(why, style="dim"))
        p = self.pacing
        if p is not None:
            head = (f"pacing for {self.speakers[1]}: reply after {_g(p.reply_delay_ms, '.0f')} ms, "
                    f"rate {_g(p.target_rate_sps, '.1f')} syl/s")
            tail = (f"loudness {_g(p.loudness_offset_db, '+.1f')} dB, pitch "
                    f"{_g(p.f0_offset_st, '+.1f')} st" + (" (warming up)" if p.warming_up else ""))
            if len(head) + 2 + len(tail) <= w:
                out.append(Text(f"{head}, {tail}"))
            else:
                out += [Text(head), Text("  " + tail)]
        return out

    def _footer(self, w: int) -> list:
        from rich.text import Text

        st = self.stats
        if not st:
            return []
        nan = float("nan")
        late = f"{st.get('late_hops', 0)}"  # of how many: a count alone cannot be judged
        if st.get("hops"):
            late += f" of {st['hops']}"
        long = (f"dropped audio {st.get('dropped_s', 0.0):.2f} s ({st.get('overflows', 0)} "
                f"overflows)  late hops {late}  latency p50 "
                f"{_g(st.get('p50_ms', nan), '.0f')} ms (look-ahead {self.lookahead_s * 1000:.0f} ms)")
        short = (f"dropped {st.get('dropped_s', 0.0):.2f} s, {st.get('overflows', 0)} overflows · "
                 f"late hops {late} · p50 {_g(st.get('p50_ms', nan), '.0f')} ms")
        return [Text(long if len(long) <= w else short, style="dim")]

    @staticmethod
    def _fit(lines: list, width: int, height: int) -> list:
        """Crop every line to the width; on a short screen keep the first lines and the footer."""
        for t in lines:
            t.no_wrap = True
            t.overflow = "crop"
            t.truncate(width)
        if height and len(lines) > height - 1:  # one row spare for the cursor
            lines = lines[:height - 2] + lines[-1:]
        return lines


class _Screen:
    """The dashboard laid out for the console it is drawn on (rich calls this per refresh)."""

    def __init__(self, dash: Dashboard):
        self.dash = dash

    def __rich_console__(self, console, options):
        height = options.height or console.size.height
        yield from self.dash.lines(options.max_width, height)


def _g(x, spec="+.2f"):
    return "–" if x is None or not math.isfinite(x) else format(x, spec)
