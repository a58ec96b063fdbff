"""Do this checkout and another revision give the same outputs? (for changes meant to be speed only)

    python bench/same_outputs.py [REV]        # REV: a git revision, default main

Both trees score the shipped demo (``prosync demo``) and CANDOR ``shift.wav`` from ``../shared``
(``prosync score``, 0.5 s blocks) and push ``shift.wav`` 10 ms at a time through a ``Session``;
every Parquet table must be equal (``pyarrow.Table.equals``) and the 10 ms updates must carry
the same frames, events, synchrony and pacing rows, series and end-of-turn rows over the
session (``per update`` also says whether each came out in the same push). REV runs from a
``git archive`` of it laid out as the installed package, in a temporary folder, with the same
Python. Exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for _shared
from _shared import ROOT, shared_data  # noqa: E402

FOLDERS = ("engine", "native", "streams", "calibration")

PUSH10 = r"""
import pickle, sys
import numpy as np, soundfile as sf
from prosync import Session
x, sr = sf.read(sys.argv[1], dtype="float32", always_2d=True)
s = Session(sample_rate=sr)
a, b, h = np.ascontiguousarray(x[:, 0]), np.ascontiguousarray(x[:, 1]), sr // 100
def dump(u):
    return ({k: v.tobytes() for k, v in u.frames.items()}, repr(u.events)[1:-1],
            repr(u.synchrony)[1:-1], repr(u.pacing)[1:-1],
            {k: {f: c.tobytes() for f, c in v.items()} for k, v in u.series.items()},
            u.end_of_turn.tobytes(), repr(u.turn_end)[1:-1])
ups = []
for i in range(0, len(x), h):
    ups += [dump(s.push(0, a[i:i + h])), dump(s.push(1, b[i:i + h]))]
ups.append(dump(s.close()))
pickle.dump(ups, open(sys.argv[2], "wb"))
"""


def package_of(rev: str, where: Path) -> Path:
    """``rev``'s sources laid out as the installed ``prosync`` package; returns its parent."""
    tar = where / "src.tar"
    with open(tar, "wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev], stdout=f, check=True)
    src = where / "src"
    with tarfile.open(tar) as t:
        t.extractall(src, filter="data")
    pkg = where / "pkg"
    (pkg / "prosync").parent.mkdir(parents=True)
    os.rename(src / "prosync", pkg / "prosync")
    for d in FOLDERS:
        os.rename(src / d, pkg / "prosync" / d)
    return pkg


def run(out: Path, pythonpath: str | None, wav: Path) -> None:
    """Both scores and the 10 ms pushes into ``out``, from a folder outside the checkout (so
    ``python -c`` does not import the checkout's ``prosync/`` folder ahead of ``pythonpath``)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
        # the temporary tree's kernel caches go with it (numba names a cache folder by the
        # source path: each run would leave a new one in the user's cache)
        env["NUMBA_CACHE_DIR"] = str(Path(pythonpath).parent / "numba")
    out.mkdir(parents=True, exist_ok=True)
    kw = {"env": env, "check": True, "cwd": str(out)}
    cli = [sys.executable, "-c", "import sys; from prosync.cli import main; sys.exit(main())"]
    subprocess.run(cli + ["demo", "--out", str(out / "demo")], stdout=subprocess.DEVNULL, **kw)
    subprocess.run(cli + ["score", str(wav), "--quiet", "--no-report", "--out",
                          str(out / "shift")], stdout=subprocess.DEVNULL, **kw)
    subprocess.run([sys.executable, "-c", PUSH10, str(wav), str(out / "push10.pkl")], **kw)


def merged(ups: list) -> dict:
    out: dict = {}
    for fr, ev, sy, pa, se, eot, te in ups:
        for k, v in fr.items():
            out[("frames", k)] = out.get(("frames", k), b"") + v
        for k, cols in se.items():
            for f, c in cols.items():
                out[("series", k, f)] = out.get(("series", k, f), b"") + c
        for key, v in (("events", ev), ("synchrony", sy), ("pacing", pa), ("turn_end", te)):
            if v:
                out[key] = out.get(key, "") + v + ", "
        out["end_of_turn"] = out.get("end_of_turn", b"") + eot
    return out


def main(argv=None) -> int:
    import pyarrow.parquet as pq

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rev", nargs="?", default="main")
    args = ap.parse_args(argv)
    wav = shared_data() / "candor_mmvap_stereo" / "shift.wav"
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "ref").mkdir()
        run(tmp / "ref_out", str(package_of(args.rev, tmp / "ref")), wav)
        run(tmp / "new_out", None, wav)
        for name in ("demo", "shift"):
            for f in sorted((tmp / "ref_out" / name).glob("*.parquet")):
                a, b = pq.read_table(f), pq.read_table(tmp / "new_out" / name / f.name)
                same = a.equals(b)
                bad += not same
                print(f"{name}/{f.name}: {a.num_rows} rows, {'same' if same else 'DIFFERENT'}")
        ref = pickle.load(open(tmp / "ref_out" / "push10.pkl", "rb"))
        new = pickle.load(open(tmp / "new_out" / "push10.pkl", "rb"))
        same = merged(ref) == merged(new)
        bad += not same
        print(f"10 ms pushes, {len(new)} updates: {'same' if same else 'DIFFERENT'} over the "
              f"session; per update {'the same' if ref == new else 'not the same (timing)'}")
    print(f"this checkout vs {args.rev}: {'SAME OUTPUTS' if not bad else f'{bad} DIFFERENCES'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
