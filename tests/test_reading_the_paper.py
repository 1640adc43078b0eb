"""The ledger (book/reading-the-paper.md) names only options that exist."""

import dataclasses
import importlib
import importlib.util
import re
from pathlib import Path

from gngan.config import RunConfig

LEDGER = Path(__file__).resolve().parents[1] / "book" / "reading-the-paper.md"


def _rows() -> dict[str, list[str]]:
    text = LEDGER.read_text()
    body = text[text.index("* - #"):text.index("```\n::::")]
    rows = re.split(r"\n\* - ", "\n" + body)[2:]
    return {r.split("\n", 1)[0]: re.split(r"\n  - ", r) for r in rows}


def _resolves(name: str) -> bool:
    """A dotted name: a module path under gngan, or a class (and its attribute) in one of gngan's modules."""
    head, _, attr = name.partition(".")
    if head == "gngan":
        module, _, obj = name.rpartition(".")
        return hasattr(importlib.import_module(module), obj) or importlib.util.find_spec(name) is not None
    for module in ("data", "trainer", "experiments", "losses", "report"):
        owner = getattr(importlib.import_module(f"gngan.{module}"), head, None)
        if owner is not None:
            return not attr or attr in {f.name for f in dataclasses.fields(owner)} or hasattr(owner, attr)
    return False


def test_rows_are_numbered_in_order_with_six_columns():
    rows = _rows()
    assert list(rows) == [str(i) for i in range(1, len(rows) + 1)]
    assert all(len(cells) == 6 for cells in rows.values()), [k for k, c in rows.items() if len(c) != 6]


def test_every_option_the_ledger_names_exists():
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = []
    for number, cells in _rows().items():
        for name in re.findall(r"`([^`]+)`", cells[4]):
            if name.startswith('"') or name in ("true", "false"):  # a value, not an option
                continue
            if not (name in fields or _resolves(name)):
                unknown.append((number, name))
    assert not unknown, f"ledger rows name options that do not exist: {unknown}"
