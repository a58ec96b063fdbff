"""The ``prosync`` command. User errors are one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prosync.engine.errors import ProsyncError

DEMO = Path(__file__).parent / "data" / "demo_dialogue.flac"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prosync", description="Prosodic synchrony between two voices.")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("score", help="score a recorded session to Parquet tables and a summary")
    s.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a mono file (one speaker), a stereo file, or two mono files")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--speakers", help="comma-separated speaker names, e.g. client,therapist")
    s.add_argument("--channels", help="1-based channels of a multichannel file, e.g. 1,2")
    s.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    d = sub.add_parser("demo", help="score the built-in two-speaker dialogue")
    d.add_argument("--out", default="prosync-demo", help="output folder (default ./prosync-demo)")
    return p


def _csv(v, kind=str):
    if v is None:
        return None
    try:
        items = [kind(x.strip()) for x in v.split(",") if x.strip()]
    except ValueError:
        raise ProsyncError(f"cannot parse {v!r}: give comma-separated values, e.g. 1,2") from None
    return items


def _run_score(inputs, out, speakers=None, channels=None, quiet=False, title=None):
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from prosync.score import score

    console = Console(stderr=True)
    if quiet:
        res = score(inputs, out, speakers=speakers, channels=channels)
    else:
        with Progress(TextColumn("scoring"), BarColumn(), TextColumn("{task.description}"),
                      TimeRemainingColumn(), console=console, transient=True) as prog:
            task = prog.add_task("", total=None)

            def cb(done, total):
                prog.update(task, completed=done, total=total,
                            description=f"{done:.0f}/{total:.0f} s of audio")

            res = score(inputs, out, speakers=speakers, channels=channels, progress=cb)
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not quiet:
        _print_summary(res, title)
    return res


def _print_summary(res, title=None):
    from rich.console import Console
    from rich.table import Table

    s = res.summary
    t = Table(title=title or f"prosync: {s['duration_s']:.1f} s scored")
    for col in ("speaker", "speech %", "voiced %", "F0 median Hz", "F0 range st",
                "rate syl/s", "artic. syl/s", "IPUs"):
        t.add_column(col, justify="right")
    for name, v in s["speakers"].items():
        def fmt(x, spec=".1f"):
            return "-" if x is None else format(x, spec)
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
    for f in res.files:
        c.print(f"wrote {f}")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "score":
            _run_score(args.inputs, args.out, _csv(args.speakers), _csv(args.channels, int),
                       args.quiet)
        elif args.cmd == "demo":
            if not DEMO.exists():
                raise ProsyncError(f"the demo recording {DEMO} is missing: reinstall prosync")
            _run_score([DEMO], args.out, ["ada", "ben"],
                       title="prosync demo: two espeak-ng voices in conversation")
        return 0
    except ProsyncError as exc:
        print(f"prosync: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"prosync: error:{where}: {exc.strerror or exc}: check the path and its permissions",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prosync: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
