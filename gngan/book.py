"""What the book build does to the executed notebooks before Jupyter Book renders them."""

from __future__ import annotations

import json
from pathlib import Path

# papermill tags the cell it injects with the parameters a notebook ran at; the book states those in prose
INJECTED = "injected-parameters"
REMOVE = "remove-cell"


def remove_injected_parameters(path: str | Path) -> int:
    """Tag papermill's injected-parameters cell of the executed notebook at ``path`` ``remove-cell`` (in place), so
    the book shows each chapter's parameters once, in the prose line the chapter prints at its top. Returns how many
    cells were tagged; an executed notebook without such a cell is an error (it was not run by papermill)."""
    path = Path(path)
    nb = json.loads(path.read_text())
    tagged = 0
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if INJECTED in tags:
            if REMOVE not in tags:
                tags.append(REMOVE)
            tagged += 1
    if not tagged:
        raise ValueError(f"{path} has no papermill {INJECTED!r} cell: execute it with papermill first (make book)")
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return tagged
