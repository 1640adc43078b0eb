"""Correct the dis_loss that stored runs recorded before each method's config named its own net_D loss.

Until this change every config defaulted to dis_loss="log", and gngan.steps read the field for GN-GAN and
Dist-GAN only: WGAN-GP trained with the Wasserstein critic loss, MMD-rep with its repulsive MMD loss, and the VAE
has no net_D, whatever their config said. This rewrites "log" to the loss that ran (config.METHOD_DIS_LOSSES) in
each run's config.json and its result.json manifest, and touches nothing else (each file is checked to load to the
same object with that one field changed). Idempotent. Usage: python tools/correct-dis-loss.py [results-root]
"""

import json
import sys
from pathlib import Path

from gngan.config import METHOD_DIS_LOSSES

LEGACY = '"dis_loss": "log"'


def corrected(path: Path) -> bool:
    text = path.read_text()
    data = json.loads(text)
    config = data["manifest"]["config"] if path.name == "result.json" else data
    own = METHOD_DIS_LOSSES[config["method"]]
    if config["dis_loss"] in own:
        return False
    if config["dis_loss"] != "log" or text.count(LEGACY) != 1:
        raise SystemExit(f"{path}: dis_loss={config['dis_loss']!r} for method {config['method']!r} is not the legacy "
                         f"default 'log' written once; correct it by hand")
    config["dis_loss"] = own[0]
    new = text.replace(LEGACY, f'"dis_loss": "{own[0]}"')
    assert json.loads(new) == data, path
    path.write_text(new)
    return True


def main(root: str = "results") -> None:
    paths = sorted(p for name in ("config.json", "result.json") for p in Path(root).rglob(name))
    changed = [p for p in paths if corrected(p)]
    print(f"{len(changed)} of {len(paths)} files corrected")


if __name__ == "__main__":
    main(*sys.argv[1:])
