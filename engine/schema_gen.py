"""Files generated from :mod:`prosync.engine.schema`: the JSON Schemas in ``docs/schemas/`` and
the tables between ``<!-- schema:NAME -->`` and ``<!-- /schema:NAME -->`` in the README and
``docs/PROTOCOL.md``.

    python -m prosync.engine.schema_gen --write     # regenerate
    python -m prosync.engine.schema_gen --check     # exit 1 naming the stale files
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import schema as S

ROOT = Path(__file__).resolve().parents[1]
DRAFT = "https://json-schema.org/draft/2020-12/schema"


# --------------------------------------------------------------------------- JSON Schema
def column_json(c: S.Column) -> dict:
    d = {"enum": list(c.enum)} if c.enum else {"type": S.TYPES[c.type][2]}
    if c.nullable:
        d = {"enum": d["enum"] + [None]} if c.enum else {"type": [d["type"], "null"]}
    desc = c.description + (f" ({c.unit})" if c.unit and c.unit not in c.description else "")
    return {**d, "description": desc}


def row_json(t: S.Table, line_type: str | None = None) -> dict:
    props = {c.name: column_json(c) for c in t.columns}
    req = list(t.names)
    if line_type:
        props = {"type": {"const": line_type}, **props}
        req = ["type", *req]
    return {"type": "object", "properties": props, "required": req,
            "additionalProperties": False, "description": f"one row of {_where(t)}: {t.rows}"}


def _where(t: S.Table) -> str:
    return f"{t.name}.parquet" if t.file else f"{t.name} (the JSON stream's rows, no file)"


def message_json(m: S.Message) -> dict:
    props = {"type": {"const": m.name}}
    for f in m.fields:
        props[f.name] = {**f.json, "description": f.description}
        if not f.required and f.default is not None and f.default != "defaults":
            props[f.name]["default"] = f.default
    doc = {"$schema": DRAFT, "$id": f"https://prosync.invalid/schemas/{S.PROTOCOL_VERSION}/"
                                    f"{m.name}.json",
           "title": m.title, "type": "object", "properties": props,
           "required": ["type", *(f.name for f in m.fields if f.required)],
           "additionalProperties": m.open}
    if m.name == "metrics":
        doc["$defs"] = {v: row_json(S.table(k)) for k, v in S._ROWS.items()}
    return doc


def jsonl_json() -> dict:
    return {"$schema": DRAFT, "$id": f"https://prosync.invalid/schemas/{S.PROTOCOL_VERSION}/"
                                     "line.json",
            "title": "one line of prosync live --jsonl",
            "oneOf": [row_json(S.table(t), k) for k, t in S.JSONL_TYPES.items()]}


def json_files() -> dict[str, str]:
    docs = {m: message_json(msg) for m, msg in S.MESSAGES.items()}
    docs["line"] = jsonl_json()
    return {f"docs/schemas/{k}.json": json.dumps(v, indent=2) + "\n" for k, v in docs.items()}


# --------------------------------------------------------------------------- Markdown
def _cell(s: str) -> str:
    return s.replace("|", "\\|")


def table_md(t: S.Table) -> str:
    where = f"`{t.name}.parquet`" if t.file else f"`{t.name}` (JSONL and WebSocket rows, no file)"
    lines = [f"{where}: {t.rows}.", "", "| column | type | unit | null | meaning |",
             "|---|---|---|---|---|"]
    for c in t.columns:
        kinds = f"`{'`, `'.join(c.enum)}`: " if c.enum and c.name != "kind" else ""
        lines.append(f"| `{c.name}` | {c.type} | {c.unit or '–'} | {'null' if c.nullable else 'no'}"
                     f" | {kinds}{_cell(c.description)} |")
    return "\n".join(lines)


def _exact() -> list[str]:
    return list(dict.fromkeys(c.name for t in S.TABLES.values() for c in t.columns if c.exact_ms))


def tables_md() -> str:
    head = (f"Schema version **{S.SCHEMA_VERSION}** (`prosync.engine.schema.SCHEMA_VERSION`), "
            "written into every file's metadata (`prosync.schema_version`) with each column's "
            "description and unit (Arrow field metadata). Missing values are **nulls** in "
            "Parquet and Arrow files (\"null\" column below) and `null` in JSON; the NumPy "
            "records and rows of the Python API (`Update`) hold NaN and `''` instead. Times "
            f"({', '.join(f'`{n}`' for n in _exact())}) are exact on the 1 ms grid "
            "(`t == round(t, 3)`).")
    return "\n\n".join([head] + [table_md(t) for t in S.TABLES.values()])


def fields_md(m: S.Message) -> str:
    if m.name == "start":
        lines = ["| field | default | meaning |", "|---|---|---|"]
        for f in m.fields:
            dflt = "required" if f.required else f"`{json.dumps(f.default)}`"
            if f.default == "defaults":
                dflt = "defaults"
            lines.append(f"| `{f.name}` | {dflt} | {_cell(f.description)} |")
    else:
        lines = ["| field | meaning |", "|---|---|"]
        lines += [f"| `{f.name}` | {_cell(f.description)} |" for f in m.fields]
    return "\n".join(lines)


def errors_md() -> str:
    return "\n".join(["| code | cause |", "|---|---|"]
                     + [f"| `{k}` | {_cell(v)} |" for k, v in S.ERROR_CODES.items()])


def sections() -> dict[str, dict[str, str]]:
    """``{file: {marker: generated text}}``."""
    proto = {f"message {m}": fields_md(S.MESSAGES[m]) for m in ("start", "ready", "metrics")}
    proto["errors"] = errors_md()
    proto["versions"] = (f"Protocol version **{S.PROTOCOL_VERSION}**, rows of schema version "
                         f"**{S.SCHEMA_VERSION}**.")
    return {"README.md": {"tables": tables_md()}, "docs/PROTOCOL.md": proto}


def fill(text: str, parts: dict[str, str], where: str) -> str:
    for name, body in parts.items():
        pat = re.compile(rf"(<!-- schema:{re.escape(name)} -->\n).*?(<!-- /schema:"
                         rf"{re.escape(name)} -->)", re.S)
        if not pat.search(text):
            raise ValueError(f"{where}: no <!-- schema:{name} --> ... <!-- /schema:{name} --> "
                             "markers: add them where the generated text belongs")
        text = pat.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def generated(root: Path = ROOT) -> dict[str, str]:
    """Every generated file's expected content, by path relative to ``root``."""
    out = json_files()
    for rel, parts in sections().items():
        out[rel] = fill((root / rel).read_text(), parts, rel)
    return out


def stale(root: Path = ROOT) -> list[str]:
    out = []
    for rel, text in generated(root).items():
        p = root / rel
        if not p.exists() or p.read_text() != text:
            out.append(rel)
    return out


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--write"]:
        for rel, text in generated().items():
            p = ROOT / rel
            if not p.exists() or p.read_text() != text:
                p.write_text(text)
                print(f"wrote {rel}")
        return 0
    if args == ["--check"]:
        bad = stale()
        for rel in bad:
            print(f"{rel} is stale: run python -m prosync.engine.schema_gen --write")
        return 1 if bad else 0
    print("usage: python -m prosync.engine.schema_gen --write | --check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
