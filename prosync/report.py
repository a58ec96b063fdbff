"""``report.html``: one self-contained page per session (figures embedded as base64 PNG).

It shows the speakers' pitch and energy contours, the turn timeline, a lag x time heat map of
the windowed cross-correlation per feature (as rMEA's ``MEAheatmap`` draws it), the
floor-transfer-offset histogram and the summary table. Everything is read back from the session's
own outputs: the heat map is :func:`prosync.wcc` on ``series.parquet`` with the session's
synchrony settings, which is the very matrix the streaming synchrony computed (offline equals
live).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from prosync.streams.sink import Sink

#: At most this many points per speaker and contour are drawn (longer sessions are binned).
MAX_POINTS = 6000
COLORS = ("#1f77b4", "#d62728")
FEATURE_LABELS = {"f0": "F0 (st re median)", "energy": "energy (dB re speech level)",
                  "rate": "speech rate (syl/s)", "vad": "voice activity"}
SERIES_COLUMNS = {"f0": "f0_st", "energy": "energy_db", "rate": "rate_sps", "vad": "vad"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _read(out: Path, table: str, columns=None):
    """The table, or None. ``ParquetFile.read``: ``pq.read_table`` and ``pyarrow.compute`` import
    pandas (about 50 MB), which the report must not add to a long session's peak memory."""
    import pyarrow.parquet as pq

    p = out / f"{table}.parquet"
    return pq.ParquetFile(p).read(columns=columns) if p.exists() else None


def _np(col) -> np.ndarray:
    """A numeric or bool column as numpy (``ChunkedArray.to_numpy`` imports pandas)."""
    import pyarrow as pa

    chunks = col.chunks if hasattr(col, "chunks") else [col]
    parts = []
    for c in chunks:  # from the buffers: Array.to_numpy imports pandas too
        n, off = len(c), c.offset
        bufs = c.buffers()
        if pa.types.is_boolean(c.type):
            bits = np.unpackbits(np.frombuffer(bufs[1], np.uint8), bitorder="little")
            v = bits[off:off + n].astype(bool)
        else:
            dt = np.dtype(c.type.to_pandas_dtype())
            v = np.frombuffer(bufs[1], dt, count=n, offset=off * dt.itemsize)
        if c.null_count:
            ok = np.unpackbits(np.frombuffer(bufs[0], np.uint8), bitorder="little")[off:off + n]
            v = np.where(ok.astype(bool), v, np.nan if v.dtype.kind == "f" else False)
        parts.append(v)
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _speaker_mask(col, name: str) -> np.ndarray:
    """``col == name`` for a pyarrow string column, from its buffers (no pyarrow.compute)."""
    chunks = col.chunks if hasattr(col, "chunks") else [col]
    key = np.frombuffer(name.encode(), dtype=np.uint8)
    out = []
    for a in chunks:
        n = len(a)
        bufs = a.buffers()
        offs = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=a.offset * 4)
        data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        m = (offs[1:] - offs[:-1]) == len(key)
        for j, byte in enumerate(key):
            pos = np.minimum(offs[:-1] + j, max(len(data) - 1, 0))
            m &= data[pos] == byte if len(data) else False
        out.append(m)
    return np.concatenate(out) if out else np.zeros(0, dtype=bool)


def _frames_downsampled(out: Path, names):
    """Per speaker: (t, f0) of voiced frames (decimated) and binned energy of speech frames.

    Streams ``frames.parquet`` by row group, so memory stays flat however long the session.
    """
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(out / "frames.parquet")
    dur = max(pf.metadata.num_rows / max(len(names), 1) * 0.01, 0.01)
    nb = MAX_POINTS
    e_sum = {n: np.zeros(nb) for n in names}
    e_cnt = {n: np.zeros(nb) for n in names}
    keep = max(1, int(np.ceil(dur * 100 / (3 * MAX_POINTS))))  # every k-th voiced frame
    f0 = {n: ([], []) for n in names}
    cols = ["speaker", "t_s", "f0_hz", "energy_db", "speech"]
    for g in range(pf.num_row_groups):  # (iter_batches imports pandas)
        b = pf.read_row_group(g, columns=cols)
        t_all, f_all, e_all, s_all = (_np(b.column(k)) for k in range(1, 5))
        for n in names:
            m = _speaker_mask(b.column(0), n)
            t, f, e, sp = t_all[m], f_all[m], e_all[m], s_all[m]
            v = np.isfinite(f) & (np.round(t * 100).astype(np.int64) % keep == 0)
            f0[n][0].append(t[v])
            f0[n][1].append(f[v])
            idx = np.clip((t[sp] / dur * nb).astype(np.int64), 0, nb - 1)
            e_sum[n] += np.bincount(idx, e[sp].astype(np.float64), minlength=nb)
            e_cnt[n] += np.bincount(idx, minlength=nb)
    centres = (np.arange(nb) + 0.5) * dur / nb
    res = {}
    for n in names:
        with np.errstate(invalid="ignore", divide="ignore"):
            en = np.where(e_cnt[n] > 0, e_sum[n] / np.maximum(e_cnt[n], 1), np.nan)
        res[n] = (np.concatenate(f0[n][0]) if f0[n][0] else np.zeros(0),
                  np.concatenate(f0[n][1]) if f0[n][1] else np.zeros(0), centres, en)
    return res


def _figure(w, h):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    FigureCanvasAgg(fig)
    return fig


def contours_figure(out: Path, names):
    data = _frames_downsampled(out, names)
    fig = _figure(12, 5.2)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for i, name in enumerate(names):
        tv, fv, tb, eb = data[name]
        ax1.plot(tv, fv, ".", ms=1.5, color=COLORS[i % 2], label=name)
        ax2.plot(tb, eb, lw=0.7, color=COLORS[i % 2], label=name)
    ax1.set_yscale("log")
    ax1.set_ylabel("F0 (Hz, log)")
    ax1.set_title("pitch contours (voiced frames)")
    ax1.legend(loc="upper right", markerscale=6)
    ax2.set_ylabel("energy (dBFS)")
    ax2.set_xlabel("time (s)")
    ax2.set_title("energy contours (speech frames)")
    fig.tight_layout()
    return _png(fig)


def timeline_figure(out: Path, names, duration_s):
    t = _read(out, "turns")
    tu = [dict(zip(t.column_names, r)) for r in zip(*(t.column(c).to_pylist() for c in t.column_names))]
    fig = _figure(12, 1.2 + 0.7 * len(names))
    ax = fig.subplots()
    for i, name in enumerate(names):
        bars = [(e["start_s"], e["end_s"] - e["start_s"]) for e in tu
                if e["kind"] == "ipu" and e["speaker"] == name]
        ax.broken_barh(bars, (len(names) - i - 0.4, 0.8), color=COLORS[i % 2])
    for kind, color in (("overlap_between", "#ff9900"), ("overlap_within", "#ffd27f"),
                        ("gap", "#9e9e9e"), ("rttm_overlap", "#7b1fa2")):
        bars = [(e["start_s"], e["end_s"] - e["start_s"]) for e in tu if e["kind"] == kind]
        if bars:
            ax.broken_barh(bars, (0.05, 0.3), color=color, label=kind)
    ax.set_yticks([len(names) - i for i in range(len(names))], list(names))
    ax.set_xlim(0, max(duration_s, 1e-3))
    ax.set_ylim(0, len(names) + 0.6)
    ax.set_xlabel("time (s)")
    ax.set_title("turn timeline: IPUs per speaker; below, floor changes through gaps and overlaps")
    if any(e["kind"] in ("gap", "overlap_between", "overlap_within", "rttm_overlap") for e in tu):
        ax.legend(loc="upper right", fontsize=7, ncol=4)
    fig.tight_layout()
    return _png(fig)


def lag_matrices(out: Path, names, sync_cfg):
    """Per feature the windows x lags matrix of raw r, recomputed from ``series.parquet``."""
    from prosync.engine.errors import ProsyncError
    from prosync.engine.wcc import wcc

    se = _read(out, "series")
    if se is None or se.num_rows == 0 or len(names) != 2:
        return {}
    masks = [_speaker_mask(se.column("speaker"), n) for n in names]
    res = {}
    for feat, col in SERIES_COLUMNS.items():
        x = _np(se.column(col))
        a, b = x[masks[0]], x[masks[1]]
        n = min(len(a), len(b))
        try:
            res[feat] = wcc(a[:n], b[:n], rate_hz=sync_cfg.rate_hz, lag_s=sync_cfg.lag_s,
                            window_s=sync_cfg.window_s, step_s=sync_cfg.step_s, fisher_z=False,
                            absolute=False, sparse="nan")
        except ProsyncError as exc:
            res[feat] = str(exc)
    return res


def _time_binned(m: np.ndarray, cols: int = 600) -> np.ndarray:
    """At most ``cols`` windows: means over runs of neighbouring windows (NaN ignored), so the
    picture of a long session costs no more memory than a short one's."""
    k = -(-m.shape[0] // cols)
    if k <= 1:
        return m
    n = -(-m.shape[0] // k) * k
    pad = np.full((n - m.shape[0], m.shape[1]), np.nan)
    g = np.concatenate([m, pad]).reshape(-1, k, m.shape[1])
    ok = np.isfinite(g)
    with np.errstate(invalid="ignore"):
        return np.where(ok.any(1), np.where(ok, g, 0).sum(1) / np.maximum(ok.sum(1), 1), np.nan)


def heatmap_figure(mats: dict):
    feats = list(mats)
    fig = _figure(12, 2.1 * len(feats) + 0.6)
    axes = fig.subplots(len(feats), 1, squeeze=False)
    im = None
    for ax, feat in zip(axes[:, 0], feats):
        r = mats[feat]
        ax.set_title(FEATURE_LABELS.get(feat, feat), fontsize=9, loc="left")
        if isinstance(r, str):
            ax.text(0.5, 0.5, r, ha="center", va="center", fontsize=8, wrap=True)
            ax.set_axis_off()
            continue
        step = r.step_samples / r.rate_hz
        t0 = r.window_start_s[0] - step / 2 if len(r.window_start_s) else 0
        t1 = r.window_start_s[-1] + step / 2 if len(r.window_start_s) else 1
        dl = (r.lags_s[1] - r.lags_s[0]) / 2 if len(r.lags_s) > 1 else 0.05
        im = ax.imshow(_time_binned(r.matrix).T, aspect="auto", origin="lower", cmap="RdBu_r",
                       vmin=-1, vmax=1,
                       extent=(t0, t1, r.lags_s[0] - dl, r.lags_s[-1] + dl),
                       interpolation="nearest")
        ax.axhline(0, color="k", lw=0.4, alpha=0.5)
        ax.set_ylabel("lag (s)")
    axes[-1, 0].set_xlabel("window start (s)")
    if im is not None:
        fig.colorbar(im, ax=axes[:, 0].tolist(), label="Pearson r", shrink=0.8, pad=0.01)
    fig.suptitle("windowed lagged cross-correlation (positive lag: the second speaker follows)",
                 fontsize=10)
    return _png(fig)


def fto_figure(ftos):
    fig = _figure(6, 2.8)
    ax = fig.subplots()
    v = np.asarray(ftos, dtype=float)
    if v.size:
        lo, hi = min(-1.0, np.floor(v.min() * 10) / 10), max(1.5, np.ceil(v.max() * 10) / 10)
        ax.hist(v, bins=np.arange(lo, hi + 0.1, 0.1), color="#555", edgecolor="white")
        ax.axvline(0, color="k", lw=0.6)
        ax.axvline(float(np.median(v)), color="#d62728", lw=1, label=f"median {np.median(v):+.2f} s")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no floor transfers", ha="center", va="center")
    ax.set_xlabel("floor-transfer offset (s): negative = overlap, positive = gap")
    ax.set_ylabel("count")
    ax.set_title("floor-transfer offsets")
    fig.tight_layout()
    return _png(fig)


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
                 _fmt(v["mean_z"], "+.2f"), _fmt(v["significant_fraction"], ".0%")]
                for f, v in sync.items()]
        parts.append("<h3>Synchrony</h3>" + _table(
            ["feature", "windows", "mean r at lag 0", "mean peak r", "mean peak lag (s)",
             "mean z vs surrogates", "windows z > 1.96"], rows))
        why: dict[str, list[str]] = {}
        for f, v in sync.items():
            if v.get("reason"):
                why.setdefault(v["reason"], []).append(f)
        parts += [f"<p class='note'>– no synchrony for {html.escape(', '.join(fs))}: "
                  f"{html.escape(r)}</p>" for r, fs in why.items()]
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


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#222;background:#fff}
h1{font-size:1.5em;margin-bottom:0}.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:8px 0}
.warn{color:#a15c00}.note{color:#555;font-size:.85em}
"""


def render(out_dir: str | Path, summary: dict, names, *, config=None, title=None) -> Path:
    """Write ``report.html`` into ``out_dir`` (atomically) from the session's outputs."""
    from prosync.engine.config import Config

    out = Path(out_dir)
    cfg = (config or Config()).sync
    dur = float(summary.get("duration_s") or 0.0)
    figs = [("Pitch and energy", contours_figure(out, names)),
            ("Turn timeline", timeline_figure(out, names, dur))]
    mats = lag_matrices(out, names, cfg)
    if mats:
        figs.append(("Synchrony: lag × time", heatmap_figure(mats)))
    figs.append(("Floor-transfer offsets", fto_figure((summary.get("fto_s") or {}).get("values", []))))
    title = title or f"prosync report: {' & '.join(names)}"
    warn = "".join(f"<p class='warn'>warning: {html.escape(w)}</p>"
                   for w in summary.get("warnings", []))
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p class='meta'>{dur:.1f} s scored · speakers {html.escape(', '.join(names))} · "
            f"synchrony: {cfg.window_s:g} s windows, ±{cfg.lag_s:g} s lags, every {cfg.step_s:g} s "
            f"at {cfg.rate_hz:g} Hz · output schema in the README</p>", warn,
            "<h2>Summary</h2>", summary_tables(summary)]
    for h, src in figs:
        body.append(f"<h2>{html.escape(h)}</h2><img alt='{html.escape(h)}' src='{src}'>")
    body.append("<p class='note'>Synchrony is reported, not a goal: the clinical evidence on "
                "“more synchrony” is mixed. Positive lag: the second speaker follows the first.</p>")
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>")
    from prosync.streams.atomic import write_text

    return write_text(out / "report.html", page)


class ReportSink(Sink):
    """``report.html`` as the last sink of a session folder: drawn on ``close(summary)`` from the
    tables the folder's Parquet sink has finished just before (place it after that sink)."""

    def __init__(self, out_dir: str | Path, names, *, config=None, title=None):
        super().__init__()
        self.out_dir, self.names, self.config, self.title = Path(out_dir), names, config, title

    def _write(self, upd) -> None:
        pass  # drawn from the finished tables

    def _close(self, summary: dict | None) -> list[Path]:
        from prosync.streams.heap import release_memory

        release_memory()  # the engine's freed heap back before the figures are drawn
        return [render(self.out_dir, summary or {}, self.names, config=self.config,
                       title=self.title)]
