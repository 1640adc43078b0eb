"""The chapters' notebooks: papermill can parameterise them, the book lists them, and they stay thin."""

import ast
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COMMON = {"budget", "device"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_one_papermill_parameters_cell(path):
    cells = json.loads(path.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    names = {t.id for node in ast.parse(source).body for t in node.targets}
    assert COMMON <= names, f"{path.name} lacks parameters {COMMON - names}"
    for line in source.splitlines():
        if "#" in line:  # papermill rewrites the cell; an "=" in a comment confuses its parser
            assert "=" not in line.split("#", 1)[1], f"{path.name}: '=' in a parameter comment: {line}"
    assert all("id" in c for c in cells), f"{path.name}: cells without ids"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_only_import_gngan_and_display_tools(path):
    allowed = {"gngan", "IPython", "os"}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module]
            else:
                continue
            assert all(m.split(".")[0] in allowed for m in mods), f"{path.name} imports {mods}"
        assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in ast.walk(ast.parse("".join(cell["source"])))), \
            f"{path.name}: library code (def/class) belongs in gngan"


def test_every_notebook_is_a_book_chapter():
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = {c["file"] for c in toc["chapters"]}
    assert {f"chapters/{p.stem}" for p in NOTEBOOKS} <= files


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_accepts_every_budget(path):
    """The budget comment names every budget (gpu too: the 1D/2D chapters show their cpu runs there), and every
    chapter reads which runs to show from experiments.shown_budget or judges rows through gngan.verdicts."""
    from gngan.config import BUDGETS

    cells = json.loads(path.read_text())["cells"]
    source = "".join(next(c for c in cells if "parameters" in c["metadata"].get("tags", []))["source"])
    line = next(x for x in source.splitlines() if x.startswith("budget ="))
    assert line.split("#", 1)[1].split() == " | ".join(BUDGETS).split(), f"{path.name}: {line}"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "experiments.shown_budget(" in code or "verdicts." in code, path.name
