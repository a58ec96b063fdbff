"""Packaging: every importable folder is in setuptools' package list (else setuptools prints a
40-line warning per folder and may drop it), ``py.typed`` ships, ``prosync --version`` works."""

from __future__ import annotations

import importlib.resources
from importlib.metadata import version
from pathlib import Path

import pytest

from prosync.cli import main

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")


def _setuptools():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_importable_folder_is_a_listed_package():
    st = _setuptools()
    listed = set(st["packages"])
    for pkg, folder in st["package-dir"].items():
        for d in [ROOT / folder, *(ROOT / folder).rglob("*")]:
            if not d.is_dir() or d.name == "__pycache__" or not d.name.isidentifier():
                continue
            name = ".".join([pkg, *d.relative_to(ROOT / folder).parts])
            assert name in listed, f"{name} ({d}) is importable but not in [tool.setuptools] packages"


def test_py_typed_and_demo_ship_with_the_package():
    st = _setuptools()
    assert "py.typed" in st["package-data"]["prosync"]
    assert importlib.resources.files("prosync").joinpath("py.typed").is_file()
    assert "*.flac" in st["package-data"]["prosync.data"]


def test_version(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["--version"])
    assert ei.value.code == 0
    assert capsys.readouterr().out.strip() == f"prosync {version('prosync')}"
