"""``bench/reliability/RELIABILITY.md``: the reliability table, written from the scripts' results.

    python bench/reliability/report.py          # re-render from bench/results/reliability.json

``fuzz.py``, ``soak.py``, ``kill.py`` and ``load_ws.py`` (in ``bench/reliability/``) each store their
figures in ``bench/results/reliability.json`` (their section only) and re-render the page, so
the table always shows the latest run of every script.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: put the repository on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._shared import BENCH, RESULTS  # noqa: E402

STORE = RESULTS / "reliability.json"
PAGE = BENCH / "reliability" / "RELIABILITY.md"

#: Found and reported to the server's owner (not fixed by these scripts).
REPORTED = [
    ("fuzz: ws (every crash of the long run)", "a text message of deeply nested JSON, e.g. `\"[\" * 2000`",
     "`json.loads` raises `RecursionError` in `streams/websocket.py` `on_text`: the client gets "
     "`internal` and its connection is closed (the server and other clients go on)",
     "fixed by the server's owner during this work (`RecursionError` -> `bad_json`); regression test "
     "`tests/test_fuzz_protocol.py::test_deeply_nested_json_is_a_bad_json_error`"),
]

#: Bugs found by these tests and fixed (kept by hand: the scripts cannot know).
FIXED = [
    ("fuzz: audio (3 of 100,000)", "FLAC/MP3 whose header declares samples but whose first read returns none "
     "(`tests/fuzz_corpus/audio/bug-no-frames-keyerror.flac`)", "`KeyError` in `read_blocks`",
     "`streams/files.py`: count 0 samples read; the truncated-file error now also gives sample counts"),
    ("fuzz: manifest", "a row shorter than the header (`session,audio,rttm` / `s1`)",
     "`TypeError` (`Path / None`)", "`prosync/corpus.py` `_read_manifest`: a clear error per line"),
    ("fuzz: manifest", "an empty session name next to others", "`TypeError` while sorting",
     "same: empty names refused"),
    ("fuzz: manifest", "session name `../..` or `a/b`",
     "`score_session` ran `rmtree(OUT/.work/../..)`: deleted outside the output folder",
     "same: names must be plain file names (no slash, not starting with a dot)"),
    ("fuzz: manifest", "the same session on two rows", "both wrote one partition silently",
     "same: duplicate names are an error naming both lines"),
    ("fuzz: manifest", "Latin-1 bytes / an Excel UTF-8 BOM", "`UnicodeDecodeError` / 'needs a header'",
     "same: read as `utf-8-sig`, non-UTF-8 is a clear error; header and values stripped"),
    ("fuzz: manifest", "unquoted `client,coach` in the speakers column",
     "the second name silently dropped", "same: more fields than the header is an error"),
    ("fuzz: RTTM", "a file starting with a UTF-8 BOM", "its first SPEAKER line silently ignored",
     "`streams/rttm.py`: read as `utf-8-sig`"),
]


def _load() -> dict:
    return json.loads(STORE.read_text()) if STORE.exists() else {}


def _save(section: str, res: dict) -> None:
    d = _load()
    res = dict(res, recorded=time.strftime("%Y-%m-%d %H:%M"))
    d[section] = res
    STORE.parent.mkdir(parents=True, exist_ok=True)
    STORE.write_text(json.dumps(d, indent=1))
    render()


def update_fuzz(res: dict) -> None:
    _save("fuzz", res)


def update_soak(res: dict) -> None:
    res = {k: v for k, v in res.items() if k != "rss_series"}
    _save("soak", res)


def update_kill(res: dict) -> None:
    _save("kill", res)


def update_load(res: dict) -> None:
    after = [mb for t, mb in res.get("rss_series", []) if t >= 60]
    res = {k: v for k, v in res.items() if k != "rss_series"}
    if after:
        res["rss_1min_mb"] = after[0]
    _save("load", res)


def _fmt(v, spec=""):
    return "–" if v is None else format(v, spec)


def render() -> str:
    d = _load()
    L = ["# Reliability", "",
         "Written by `bench/reliability/report.py` from the results of `fuzz.py`, `soak.py`, "
         "`kill.py` and `load_ws.py` in `bench/reliability/` (raw figures: "
         "`bench/results/reliability.json`; all of them: `python bench/run_all.py reliability`). "
         "The short versions run in CI: `tests/test_fuzz_inputs.py`, `tests/test_fuzz_protocol.py`, "
         "`tests/test_reliability.py`.", ""]
    L += ["## Summary", "", "| what | tried | result |", "|---|---|---|"]
    fz = d.get("fuzz")
    if fz:
        for name, t in fz["targets"].items():
            L.append(f"| fuzz: {name} | {t['inputs']:,} generated inputs ({t['wall_s']:.0f} s) | "
                     f"{t['accepted']:,} parsed, {t['rejected']:,} clear errors, "
                     f"**{t['crashes']} crashes, {t['hangs']} hangs** |")
    sk = d.get("soak")
    if sk:
        fw = sk["final_window"]["frames"]
        ident = ", ".join(f"{s}: {v['identical_rows']:,}/{v['rows']:,}" for s, v in fw.items())
        L.append(f"| soak: one Session, generated two-speaker audio | {sk['audio_hours']:.2f} h of audio "
                 f"in {sk['compute_s'] / 60:.1f} min (RTF {sk['rtf']}) | RSS "
                 f"{sk['rss_after_10min_mb']} MB at 10 min → {sk.get('rss_at_window_start_mb')} MB before "
                 f"the final window, slope **{sk['slope_mb_per_audio_hour']} MB per audio hour**; "
                 f"final {sk['window_s'] / 60:.0f} min vs a fresh session: frames identical {ident} |")
    kl = d.get("kill")
    if kl:
        for name, t in kl["targets"].items():
            L.append(f"| SIGKILL: `{name}` | {t['runs']} kills at random moments | "
                     f"{t['files_checked']} files checked readable, **{t['files_lost']} lost**, "
                     f"{t['unreadable']} unreadable, reruns complete {t['reruns_ok']}/{t['runs']} |")
    ld = d.get("load")
    if ld:
        L.append(f"| WebSocket load | {ld['clients']} clients × {ld['minutes']} min real time, "
                 f"{ld['disconnects']} random disconnects, {ld['malformed_sent']} malformed messages | "
                 f"probe client p50/p99 {ld['probe_p50_ms']:.1f}/{ld['probe_p99_ms']:.1f} ms under "
                 f"load vs {ld['baseline_p50_ms']:.1f}/{ld['baseline_p99_ms']:.1f} ms alone; the "
                 f"load process's clients p99 {ld['p99_ms']:.1f} ms; "
                 + f"server RSS {ld['rss_start_mb']} MB at the start, {ld.get('rss_1min_mb', '–')} MB after "
                 f"1 min, {ld['rss_end_mb']} MB at the end "
                 f"(slope {ld['rss_slope_mb_per_h']} MB/h), **{ld['server_errors']} server errors**, "
                 f"token refusals {ld['unauthenticated_refused']}/{ld['unauthenticated_tried']}, "
                 f"bound to {ld['bind']} |")
    L += ["", "## Crashes found and fixed", ""]
    if FIXED:
        L += ["| found by | input | symptom | fix |", "|---|---|---|---|"]
        L += [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in FIXED]
    else:
        L.append("None.")
    L += ["", "## Found and reported to the owner of the code", "",
          "| found by | input | symptom | status |",
          "|---|---|---|---|"] + [f"| {a} | {b} | {c} | {e} |" for a, b, c, e in REPORTED]
    if fz:
        L += ["", "## Fuzzing", "", f"`python bench/reliability/fuzz.py --n {fz['n']}` (seed {fz['seed']}, "
              f"{fz['recorded']}). A crash is any exception other than `ProsyncError` (or a "
              "message that is not one line); a hang is an input taking longer than "
              f"{fz['hang_s']} s.", "",
              "| target | inputs | parsed | clear errors | crashes | hangs | slowest (s) |",
              "|---|---|---|---|---|---|---|"]
        for name, t in fz["targets"].items():
            L.append(f"| {name} | {t['inputs']:,} | {t['accepted']:,} | {t['rejected']:,} | {t['crashes']} | "
                     f"{t['hangs']} | {t['slowest_s']:.3f} |")
        cc = [(n, k, v) for n, t in fz["targets"].items() for k, v in t.get("crash_classes", {}).items()]
        if cc:
            L += ["", "Crash classes:", ""] + [f"* {n}: {v} × `{k}`" for n, k, v in cc]
        ex = [(n, c) for n, t in fz["targets"].items() for c in t.get("crash_examples", [])]
        if ex:
            L += ["", "Crash examples:", ""] + [f"* {n}: `{c}`" for n, c in ex[:20]]
    if sk:
        L += ["", "## Soak", "", f"`python bench/reliability/soak.py --hours {sk['audio_hours']:g}` "
              f"({sk['recorded']}): "
              f"{sk['rss_samples']} RSS samples, one per audio minute; slope fitted after the first 10 "
              f"minutes: {sk['slope_mb_per_audio_hour']} MB per audio hour"
              + (f" ({sk['slope_mb_per_audio_hour_after_1h']} after the first hour)"
                 if "slope_mb_per_audio_hour_after_1h" in sk else "")
              + f"; max RSS {sk['rss_max_mb']} MB.", "",
              f"Final window ({sk['window_s'] / 60:g} min) against a fresh Session fed the same audio "
              f"after {sk['warmup_s'] / 60:g} min of warm-up:", ""]
        for s, v in sk["final_window"]["frames"].items():
            L.append(f"* frames of {s}: {v['identical_rows']:,} of {v['rows']:,} identical in every "
                     f"column; by column {v['identical_by_column']}")
        for k in ("synchrony", "pacing"):
            v = sk["final_window"][k]
            L.append(f"* {k} rows: {v['identical_rows']} of {min(v['rows_long'], v['rows_fresh'])} "
                     f"identical; by column {v['identical_by_column']}")
        if sk.get("note"):
            L += ["", sk["note"]]
    if kl:
        L += ["", "## Kill tests", "", f"`python bench/reliability/kill.py --runs {kl['runs']}` "
              f"({kl['recorded']}). "
              "Each run starts the command, sends SIGKILL at a random moment, checks that every file "
              "in the output is readable (Parquet, JSON, FLAC, journals through `read_table`) and "
              "that everything finished before the kill is still there, then reruns to completion.", "",
              "| command | kills | kill moments (s) | files checked | unreadable | finished lost | "
              "reruns complete |", "|---|---|---|---|---|---|---|"]
        for name, t in kl["targets"].items():
            L.append(f"| `{name}` | {t['runs']} | {t['kill_s_min']:.2f}–{t['kill_s_max']:.2f} | "
                     f"{t['files_checked']} | {t['unreadable']} | {t['files_lost']} | {t['reruns_ok']} |")
        for name, t in kl["targets"].items():
            for p in t.get("problems", [])[:10]:
                L.append(f"* {name}: {p}")
    if ld:
        L += ["", "## WebSocket load", "", f"`python bench/reliability/load_ws.py --clients {ld['clients']} "
              f"--minutes {ld['minutes']} --workers {ld.get('server_workers', 1)} --interval-ms "
              f"{ld.get('metrics_interval_ms', 0):g}` ({ld['recorded']}): server `prosync serve` "
              f"with {ld.get('server_workers', 1)} worker process(es) on {ld['bind']}, all clients "
              "in one other process; clients stream 20 ms two-speaker blocks in real time.", "",
              "| figure | value |", "|---|---|"]
        for k, v in ld.items():
            if k not in ("recorded", "rss_series", "note"):
                L.append(f"| {k} | {v} |")
        if ld.get("note"):
            L += ["", ld["note"]]
    PAGE.write_text("\n".join(L) + "\n")
    return PAGE.read_text()


if __name__ == "__main__":
    print(render())
    sys.exit(0)
