"""The layers contract in setup.cfg names every module of cbt, so none escapes the check."""

from __future__ import annotations

import configparser
import pkgutil
from pathlib import Path

import cbt

ROOT = Path(__file__).resolve().parents[3]


def test_layers_contract_covers_every_cbt_module() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    contract = config["importlinter:contract:layers"]
    assert contract["type"] == "layers"
    named = {
        module.strip()
        for line in contract["layers"].splitlines()
        for module in line.split(":")
        if module.strip()
    }
    modules = {f"cbt.{info.name}" for info in pkgutil.iter_modules(cbt.__path__)}
    assert modules - named == set()
    assert {"scoring", "item_bank", "delivery", "analytics"} <= named
