"""A file too large for one device call, carried in two parts over two calls and joined on the device machine.

The device machine takes at most 64 MiB per call (the repository tree included), and it keeps /tmp between
calls only while it stays warm. The FID Inception weights (fp16, 41.8 MiB) do not fit beside the tree in one
call, nor beside the tree and CIFAR-10 in the other, so each call carries a part: ``split_file`` here, ``stage``
in call 1 (tools/gpu-stage-weights.sh: the first part to /tmp), ``join`` in call 2 (tools/gpu-run.sh). Every
part and the whole file are checked against the sha256 the manifest records.

Standard library only: call 1 runs before any wheel is installed there.

    python3 -m gngan.carry stage MANIFEST --into DIR
    python3 -m gngan.carry join MANIFEST --search DIR [DIR ...] --into DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

MANIFEST = "inception.json"
CHUNK = 1 << 20


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def split_sizes(total: int, others: tuple[int, int], limit: int) -> tuple[int, int]:
    """(bytes of a ``total``-byte file carried by call 1, by call 2), when everything else travelling with the
    calls comes to ``others`` bytes (the tree and each call's own files): the split that leaves both calls the
    same room under ``limit``. Raises ValueError (one line) when the two calls cannot hold the file."""
    first = min(max((total + others[1] - others[0]) // 2, 0), total)
    sizes = (first, total - first)
    over = [other + size - limit for other, size in zip(others, sizes)]
    if max(over) > 0:
        raise ValueError(f"a {total / 2**20:.1f} MiB file does not fit in two calls of {limit / 2**20:.0f} MiB beside "
                         f"{others[0] / 2**20:.1f} and {others[1] / 2**20:.1f} MiB (call {over.index(max(over)) + 1} "
                         f"over by {max(over) / 2**20:.1f} MiB): shrink results/ or the carried files")
    return sizes


def split_file(path: Path, sizes: tuple[int, ...], folders: tuple[Path, ...]) -> dict:
    """Write ``path`` as parts of ``sizes`` bytes, part i into ``folders[i]`` (a part of 0 bytes is left out), and
    the manifest (MANIFEST: the file's name, bytes and sha256, and each part's) into every folder. Returns it."""
    path = Path(path)
    if sum(sizes) != path.stat().st_size or len(sizes) != len(folders):
        raise ValueError(f"parts of {sizes} bytes in {len(folders)} folders do not make up {path} "
                         f"({path.stat().st_size} bytes)")
    parts = []
    with open(path, "rb") as src:
        for i, (size, folder) in enumerate(zip(sizes, folders), start=1):
            if size == 0:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            part = folder / f"{path.name}.part{i}"
            with open(part, "wb") as dst:
                left = size
                while left:
                    block = src.read(min(CHUNK, left))
                    if not block:
                        raise ValueError(f"{path} ended {left} bytes early while it was split: did it change?")
                    dst.write(block)
                    left -= len(block)
            parts.append({"name": part.name, "call": i, "bytes": size, "sha256": sha256(part)})
    manifest = {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path), "parts": parts}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _checked(part: dict, path: Path) -> bool:
    return path.is_file() and path.stat().st_size == part["bytes"] and sha256(path) == part["sha256"]


def stage(manifest_path: Path, into: Path, call: int = 1) -> list[Path]:
    """Copy the parts of ``call`` (lying beside ``manifest_path``) into ``into`` (outside the repository copy, which
    the next call replaces), each checked. Returns the staged parts (none when the split gave this call none);
    raises FileNotFoundError (one line) when one is missing."""
    manifest_path = Path(manifest_path)
    manifest = json.loads(manifest_path.read_text())
    into.mkdir(parents=True, exist_ok=True)
    staged = []
    for part in (p for p in manifest["parts"] if p["call"] == call):
        src = manifest_path.parent / part["name"]
        if not src.is_file():
            raise FileNotFoundError(f"{src} (part of {manifest['file']}) is missing: run 'python -m gngan gpu-pack' "
                                    f"first")
        shutil.copyfile(src, into / part["name"])
        if not _checked(part, into / part["name"]):
            raise ValueError(f"{into / part['name']}: its size or sha256 is not the manifest's; the copy is corrupt")
        staged.append(into / part["name"])
    return staged


def join(manifest_path: Path, search: list[Path], into: Path) -> Path:
    """Join the parts of the file ``manifest_path`` describes, each found in the first of ``search`` that holds it
    and checked, into ``into``/its name; the whole is checked against its sha256. Returns its path. A missing part
    raises FileNotFoundError, a corrupt one ValueError (one line each)."""
    manifest = json.loads(Path(manifest_path).read_text())
    into.mkdir(parents=True, exist_ok=True)
    target = into / manifest["file"]
    if target.is_file() and target.stat().st_size == manifest["bytes"] and sha256(target) == manifest["sha256"]:
        return target
    found = []
    for part in manifest["parts"]:
        paths = [Path(d) / part["name"] for d in search if (Path(d) / part["name"]).is_file()]
        if not paths:
            raise FileNotFoundError(f"{part['name']} (part of {manifest['file']}) is in none of "
                                    f"{[str(d) for d in search]}")
        good = [path for path in paths if _checked(part, path)]
        if not good:
            raise ValueError(f"{', '.join(map(str, paths))}: size or sha256 not the manifest's; the part is corrupt")
        found.append(good[0])
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as dst:
        for path in found:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, dst, CHUNK)
    if sha256(tmp) != manifest["sha256"]:
        tmp.unlink()
        raise ValueError(f"the joined {manifest['file']} does not have the manifest's sha256")
    os.replace(tmp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gngan.carry", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stage", help="copy the parts beside MANIFEST into --into, checked")
    s.add_argument("manifest", type=Path)
    s.add_argument("--into", type=Path, required=True)
    j = sub.add_parser("join", help="join the parts found in --search into --into, checked; print its path")
    j.add_argument("manifest", type=Path)
    j.add_argument("--search", type=Path, nargs="+", required=True)
    j.add_argument("--into", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "stage":
            staged = stage(args.manifest, args.into)
            for path in staged:
                print(f"staged and checked: {path}")
            if not staged:
                print("nothing to stage: the split gave this call no part")
        else:
            print(join(args.manifest, args.search, args.into))
    except (OSError, ValueError) as err:
        print(f"gngan.carry {args.command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
