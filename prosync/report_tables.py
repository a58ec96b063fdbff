"""The summary tables of ``report.html`` (speakers, turn taking, synchrony, entrainment)."""

from __future__ import annotations

import html


def _fmt(v, spec=".2f"):
    if v is None:
        return "–"
    if isinstance(v, float):
        return format(v, spec)
    return html.escape(str(v))


def _table(header, rows) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _session_r(v: dict) -> str:
    """``+0.39 at +0.1 s``, or ``–`` without a session test."""
    if v.get("session_r") is None:
        return "–"
    return f"{_fmt(v['session_r'], '+.2f')} at {_fmt(v.get('session_lag_s'), '+.1f')} s"


def summary_tables(summary: dict) -> str:
    parts = []
    rows = []
    for name, v in summary["speakers"].items():
        rows.append([html.escape(name), _fmt(v.get("speech_fraction"), ".0%"),
                     _fmt(v.get("voiced_fraction"), ".0%"), _fmt(v.get("f0_median_hz"), ".0f"),
                     _fmt(v.get("f0_range_st_5_95"), ".1f"), _fmt(v.get("speech_rate_sps")),
                     _fmt(v.get("articulation_rate_sps")), _fmt(v.get("ipus"))])
    parts.append("<h3>Speakers</h3>" + _table(
        ["speaker", "speech", "voiced", "F0 median (Hz)", "F0 range 5–95 % (st)", "speech rate (syl/s)",
         "articulation rate (syl/s)", "IPUs"], rows))
    ev = summary.get("turn_events", {})
    fto = summary.get("fto_s", {})
    parts.append("<h3>Turn taking</h3>" + _table(
        ["pauses", "gaps", "overlaps between", "overlaps within", "floor transfers", "median FTO (s)"],
        [[_fmt(ev.get("pause", 0)), _fmt(ev.get("gap", 0)), _fmt(ev.get("overlap_between", 0)),
          _fmt(ev.get("overlap_within", 0)), _fmt(fto.get("count")), _fmt(fto.get("median"), "+.3f")]]))
    sync = summary.get("synchrony")
    if sync:
        rows = [[html.escape(f), f"{v.get('valid_windows', v['windows'])} of {v['windows']}",
                 _fmt(v["mean_r_lag0"], "+.2f"),
                 _fmt(v["mean_r_peak"], "+.2f"), _fmt(v["mean_peak_lag_s"], "+.2f"),
                 _fmt(v["significant_fraction"], ".0%"),
                 _session_r(v), _fmt(v.get("session_p"), ".2f")]
                for f, v in sync.items()]
        parts.append("<h3>Synchrony</h3>" + _table(
            ["feature", "windows", "mean r at lag 0", "mean signed r at the peak |r|", "mean peak lag (s)",
             "windows p < 0.025 (2 % by chance with 99 surrogates, at most 2.5 %)", "session r at its lag",
             "session p"], rows))
        why: dict[str, list[str]] = {}
        notes: dict[str, list[str]] = {}
        for f, v in sync.items():
            if v.get("reason"):
                why.setdefault(v["reason"], []).append(f)
            elif v.get("session_note"):
                notes.setdefault(v["session_note"], []).append(f)
            if v.get("window_note"):
                notes.setdefault(v["window_note"], []).append(f)
        parts += [f"<p class='note'>– no synchrony for {html.escape(', '.join(fs))}: "
                  f"{html.escape(r)}</p>" for r, fs in why.items()]
        parts += [f"<p class='note'>– session test of {html.escape(', '.join(fs))}: "
                  f"{html.escape(r)}</p>" for r, fs in notes.items()]
    lh = (summary.get("entrainment") or {}).get("levitan_hirschberg") or {}
    flat = []  # {feature: stats} or {direction: {feature: stats}}
    for k, v in lh.items():
        if isinstance(v, dict) and "proximity_t" in v:
            flat.append(("", k, v))
        elif isinstance(v, dict):
            flat += [(k.replace("_", " "), f, w) for f, w in v.items() if isinstance(w, dict)]
    if flat:
        rows = [[html.escape(d), html.escape(f), _fmt(v.get("proximity_t")),
                 _fmt(v.get("proximity_p"), ".3f"), _fmt(v.get("convergence_r"), "+.2f"),
                 _fmt(v.get("convergence_p"), ".3f"), _fmt(v.get("synchrony_r"), "+.2f"),
                 _fmt(v.get("synchrony_p"), ".3f"), _fmt(v.get("pairs"))] for d, f, v in flat]
        parts.append("<h3>Turn-level entrainment (Levitan &amp; Hirschberg 2011)</h3>" + _table(
            ["direction", "IPU feature", "proximity t", "p", "convergence r", "p", "synchrony r",
             "p", "pairs"], rows))
        least = (summary.get("entrainment") or {}).get("levitan_hirschberg_min_pairs_p")
        if least and any(v.get("p_note") for _, _, v in flat):
            parts.append(f"<p class='note'>– p-values are withheld below {least} turn exchanges: "
                         "with so few pairs they say next to nothing.</p>")
    return "\n".join(parts)
