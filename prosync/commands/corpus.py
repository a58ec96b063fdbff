"""``prosync corpus``: score every session of a folder into one Parquet dataset."""

from __future__ import annotations

import os

from prosync.commands._util import add_preset


def register(sub) -> None:
    c = sub.add_parser("corpus", help="score every session of a folder into one Parquet dataset")
    c.add_argument("root", metavar="DIR", help="folder of sessions (see the README's naming rule)")
    c.add_argument("-o", "--out", required=True, help="output dataset folder")
    c.add_argument("--manifest", metavar="CSV", help="session,audio[,audio2][,rttm][,speakers]")
    c.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    c.add_argument("--dask", metavar="tcp://HOST:PORT", help="run on an existing Dask cluster")
    c.add_argument("--reports", action="store_true", help="also write report.html per session")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    add_preset(c)
    c.set_defaults(func=cmd_corpus)


def cmd_corpus(args) -> int:
    import sys

    from prosync.cli import cli_message
    from prosync.engine.errors import ProsyncError

    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from prosync.corpus import run_corpus

    if args.workers is not None and args.workers < 1:
        raise ProsyncError(f"--workers {args.workers}: give 1 or more")
    if args.dask:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ProsyncError("--dask needs dask.distributed: pip install 'prosync[dask]'") from None
    s = run_corpus(args.root, args.out, manifest=args.manifest, workers=args.workers,
                   dask=args.dask, report=args.reports, progress=not args.quiet,
                   preset=args.preset)
    print(f"{s['done']}/{s['sessions']} sessions done ({s['audio_hours']:.2f} h of audio), "
          f"{s['failed']} failed this run, {s['wall_s_this_run']:.1f} s")
    for f in s["failures"]:
        print(f"failed: {f['session']}: {cli_message(f['reason'])}", file=sys.stderr)
    for feat, v in s["pseudo_dyads"]["features"].items():
        d, p = v["cohens_d"], v.get("p_value")
        real, pseudo = (("–" if x is None else f"{x:.2f}") for x in (v["real_mean"], v["pseudo_mean"]))
        print(f"{feat}: real {real} vs pseudo {pseudo} "
              f"(|z| grand average; {v.get('n_real')} real, {v.get('n_pseudo')} pseudo-dyads), "
              f"Cohen's d {'–' if d is None else f'{d:+.2f}'}, "
              f"p {'–' if p is None else f'{p:.3g}'}" + (f" ({v['reason']})" if v.get("reason") else ""))
    print(f"wrote {os.path.join(args.out, 'corpus_summary.json')}")
    return 2 if s["failures"] else 0  # a script's `&&` must not read a partial dataset as whole
