"""``prosync score`` and ``prosync demo``: score recorded sessions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from prosync.commands._util import add_preset, csv_list

# Offline runs keep memory flat: pyarrow's default allocator (mimalloc) holds about 30 MB more of
# freed memory than the system allocator over an hour of audio. Read by pyarrow at import, so it
# is set here, before any command imports pyarrow (an explicit setting wins).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
from prosync.engine.errors import ProsyncError

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo_dialogue.flac"


def register(sub) -> None:
    s = sub.add_parser("score", help="score a recorded session to Parquet tables and a summary")
    s.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a mono file (one speaker), a stereo file, or two mono files")
    s.add_argument("-o", "--out", required=True, help="output folder")
    s.add_argument("--speakers", help="comma-separated speaker names, e.g. client,therapist")
    s.add_argument("--channels", help="1-based channels of a multichannel file, e.g. 1,2")
    s.add_argument("--rttm", metavar="FILE",
                   help="diarization of a mono mix: split it into the two speakers by its turns")
    s.add_argument("--textgrid", metavar="FILE", help="also write IPUs and turns as a Praat TextGrid")
    s.add_argument("--rttm-out", metavar="FILE", help="also write the IPUs as an RTTM file")
    s.add_argument("--no-report", action="store_true", help="do not write report.html")
    s.add_argument("--profile", metavar="FILE",
                   help="speaker baselines (JSON): loaded if it exists, updated at the end")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_preset(s)
    s.set_defaults(func=cmd_score)

    d = sub.add_parser("demo", help="score the built-in two-speaker dialogue")
    d.add_argument("-o", "--out", default="prosync-demo", help="output folder (default ./prosync-demo)")
    add_preset(d)
    d.set_defaults(func=cmd_demo)


def cmd_score(args) -> int:
    _run_score(args.inputs, args.out, csv_list(args.speakers), csv_list(args.channels, int, "--channels"),
               args.quiet, rttm=args.rttm, textgrid=args.textgrid, rttm_out=args.rttm_out,
               report=not args.no_report, profile=args.profile, preset=args.preset)
    return 0


def lean_memory() -> None:
    """The system allocator for pyarrow, also when pyarrow was imported before this module."""
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") == "system":
        pa.set_memory_pool(pa.system_memory_pool())


def cmd_demo(args) -> int:
    if not DEMO.exists():
        raise ProsyncError(f"the demo recording {DEMO} is missing: reinstall prosync")
    res = _run_score([DEMO], args.out, ["ada", "ben"],
                     title="prosync demo: two espeak-ng voices in conversation", preset=args.preset)
    _print_following(res, "ben", "ada")
    return 0


def _print_following(res, follower: str, leader: str) -> None:
    """What the demo was made to show and what the scores say about it: turn-level synchrony
    (Levitan & Hirschberg) of the follower's pitch and rate with the leader's previous turn, in
    both directions, with p-values, and the verdict they support (no more than that)."""
    from rich.console import Console

    c = Console()
    lh = (res.summary.get("entrainment") or {}).get("levitan_hirschberg") or {}
    c.print(f"The demo is scripted so that {follower}'s pitch and rate move toward {leader}'s "
            "previous turn. What the scores say:")
    for feat, label in (("f0_mean_hz", "pitch"), ("rate_sps", "speech rate")):
        fw = lh.get(f"{follower}_follows_{leader}", {}).get(feat, {})
        bw = lh.get(f"{leader}_follows_{follower}", {}).get(feat, {})
        r, p = fw.get("synchrony_r"), fw.get("synchrony_p")
        if r is None:
            c.print(f"  {label}: no turn-level value ({fw.get('pairs', 0)} exchanges)")
            continue
        if p is None:
            verdict = fw.get("p_note") or "p withheld"
        elif p < 0.05:
            verdict = "significant at 5 %"
        else:
            verdict = "not significant: no evidence of following in this short dialogue"
        back = bw.get("synchrony_r")
        c.print(f"  {label}: {follower} after {leader}'s turn r = {r:+.2f} over {fw['pairs']} "
                f"exchanges, p = {'–' if p is None else f'{p:.2f}'} ({verdict})"
                + ("" if back is None else f"; the other way round r = {back:+.2f}"))
    neg = [f"{TURN_TAKING_LABELS.get(f, f)} {v['mean_r_lag0']:+.2f}"
           for f, v in (res.summary.get("synchrony") or {}).items()
           if v.get("mean_r_lag0") is not None and v["mean_r_lag0"] <= TURN_TAKING_R]
    if neg:
        c.print(f"The windowed synchrony is negative for {', '.join(neg)} (mean r at lag 0) because "
                "the voices take turns (one speaks while the other is silent): turn alternation, "
                "not a failure to follow.")


#: The demo names a feature's windowed synchrony negative from this mean r at lag 0 down.
TURN_TAKING_R = -0.2
TURN_TAKING_LABELS = {"f0": "pitch", "energy": "energy", "rate": "speech rate",
                      "vad": "voice activity"}


def _run_score(inputs, out, speakers=None, channels=None, quiet=False, title=None, preset=None,
               **kw):
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from prosync.engine.config import Config
    from prosync.score import score

    lean_memory()
    if preset is not None:
        kw["config"] = Config.preset(preset)
    console = Console(stderr=True)
    kw.setdefault("title", title)
    if quiet or not console.is_terminal:  # a progress bar only on a terminal (piped: no blank line)
        res = score(inputs, out, speakers=speakers, channels=channels, **kw)
    else:
        with Progress(TextColumn("scoring"), BarColumn(), TextColumn("{task.description}"),
                      TimeRemainingColumn(), console=console, transient=True) as prog:
            task = prog.add_task("", total=None)

            def cb(done, total):
                prog.update(task, completed=done, total=total,
                            description=f"{done:.0f}/{total:.0f} s of audio")

            res = score(inputs, out, speakers=speakers, channels=channels, progress=cb, **kw)
    from prosync.cli import cli_message

    for w in res.warnings:  # a library parameter named in a warning as its flag (channels=1)
        print(f"warning: {cli_message(w)}", file=sys.stderr)
    if len(res.summary.get("speakers", ())) == 1 and not quiet:
        from prosync.report import ONE_SPEAKER

        print(f"note: {ONE_SPEAKER}", file=sys.stderr)
    if not quiet:
        _print_summary(res, title)
    return res


def _print_summary(res, title=None):
    from rich import box
    from rich.console import Console
    from rich.table import Table

    s = res.summary
    t = Table(title=title or f"prosync: {s['duration_s']:.1f} s scored")
    # speaker names whole (two 'speake…' cannot be told apart); the number headers wrap instead
    t.add_column("speaker", justify="right", no_wrap=True,
                 min_width=max(map(len, s["speakers"]), default=7))
    for col in ("speech %", "voiced %", "F0 median Hz", "F0 range st",
                "rate syl/s", "artic. syl/s", "IPUs"):
        t.add_column(col, justify="right")
    for name, v in s["speakers"].items():
        def fmt(x, spec=".1f"):
            return "–" if x is None else format(x, spec)
        t.add_row(name, fmt(v["speech_fraction"] and 100 * v["speech_fraction"], ".0f"),
                  fmt(v["voiced_fraction"] and 100 * v["voiced_fraction"], ".0f"),
                  fmt(v["f0_median_hz"], ".0f"), fmt(v["f0_range_st_5_95"]),
                  fmt(v["speech_rate_sps"], ".2f"), fmt(v["articulation_rate_sps"], ".2f"),
                  str(v["ipus"]))
    c = Console()
    c.print(t)
    ev = s["turn_events"]
    kinds = ", ".join(f"{k} {ev[k]}" for k in ("pause", "gap", "overlap_between", "overlap_within")
                      if k in ev)
    fto = s["fto_s"]
    c.print(f"turn events: {kinds or 'none'}; floor transfers: {fto['count']}"
            + (f", median offset {fto['median'] * 1000:+.0f} ms" if fto["median"] is not None else ""))
    sync = s.get("synchrony")
    if sync:
        # headers broken by hand, values never wrapped, no vertical rules: 80 columns hold it
        st = Table(title="synchrony (windowed lagged cross-correlation; + lag: second follows)",
                   box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("feature", "valid\nwindows", "mean r\nlag 0", "signed\npeak r", "peak\nlag s",
                    "windows\np<0.025", "session\nr @ lag s", "session\np"):
            st.add_column(col, justify="right", no_wrap=True,
                          min_width=max(map(len, col.split("\n"))))
        notes = {}
        for feat, v in sync.items():
            def g(x, spec="+.2f"):
                return "–" if x is None else format(x, spec)
            sig = v["significant_fraction"]
            st.add_row(feat, f"{v.get('valid_windows', v['windows'])}/{v['windows']}",
                       g(v["mean_r_lag0"]), g(v["mean_r_peak"]), g(v["mean_peak_lag_s"]),
                       "–" if sig is None else f"{100 * sig:.0f}%",
                       "–" if v.get("session_r") is None
                       else f"{g(v['session_r'])} @ {g(v.get('session_lag_s'), '+.1f')}",
                       g(v.get("session_p"), ".2f"))
            if v.get("reason"):
                notes.setdefault(("no synchrony for", v["reason"]), []).append(feat)
            elif v.get("session_note"):
                notes.setdefault(("session test of", v["session_note"]), []).append(feat)
            if v.get("window_note"):
                notes.setdefault(("windows of", v["window_note"]), []).append(feat)
        c.print(st)
        for (what, why), feats in notes.items():
            c.print(f"– {what} {', '.join(feats)}: {why}")
    for f in res.files:
        c.print(f"wrote {f}")
    if res.report is not None:
        c.print(f"report: open {res.report.resolve().as_uri()}")
