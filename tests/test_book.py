import json

import pytest

from gngan import book
from gngan.__main__ import main


def _notebook(path, *cells):
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"tags": tags}, "source": src,
                                            "outputs": [], "execution_count": None} for tags, src in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_papermills_injected_cell_is_removed_from_the_book_and_nothing_else(tmp_path):
    path = tmp_path / "ch.ipynb"
    _notebook(path, (["parameters", "remove-cell"], 'budget = "cpu"'), (["injected-parameters"], "# Parameters\n"),
              (["hide-input"], "x = 1"))
    assert main(["book-tags", str(path)]) == 0
    tags = [c["metadata"]["tags"] for c in json.loads(path.read_text())["cells"]]
    assert tags == [["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["hide-input"]]
    assert book.remove_injected_parameters(path) == 1  # again: still tagged once
    assert json.loads(path.read_text())["cells"][1]["metadata"]["tags"].count("remove-cell") == 1


def test_a_notebook_not_executed_by_papermill_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "raw.ipynb"
    _notebook(path, (["parameters"], 'budget = "cpu"'))
    with pytest.raises(ValueError, match="no papermill 'injected-parameters' cell"):
        book.remove_injected_parameters(path)
    assert main(["book-tags", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
