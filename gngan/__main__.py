"""Command line: ``python -m gngan train --config cfg.json --run-dir DIR``,
``python -m gngan section 01_1d --budget cpu`` and ``python -m gngan status --budget cpu`` (what is left)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gngan.config import BUDGETS, RunConfig

SECTIONS = ("01_1d", "02_2d", "03_ablation", "04_table3", "05_gan_ne_gm")


def _train(args) -> None:
    from gngan.trainer import run

    path = Path(args.config)
    if not path.exists():
        raise ValueError(f"config file {path} does not exist; write one with RunConfig(...).save(path)")
    try:
        config = RunConfig.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {path} is not valid JSON ({err})") from None
    result = run(config, args.run_dir, device=args.device, progress=not args.quiet)
    print(json.dumps({k: v for k, v in result["final"].items() if k != "snapshot"}))


def _section(args) -> None:
    from gngan import experiments

    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    methods = args.methods.split(",") if args.methods else None
    if args.name == "01_1d":
        configs = experiments.toy1d_configs(args.budget, seeds=seeds, num_steps=args.num_steps)
    elif args.name == "02_2d":
        configs = experiments.grid2d_configs(args.budget, seeds=seeds, num_steps=args.num_steps, methods=methods)
    else:
        configs = experiments.image_configs(args.name, args.budget, seeds=seeds, num_steps=args.num_steps,
                                            methods=methods)
    root = Path(args.results_root) if args.results_root else None
    experiments.run_section(args.name, configs, args.budget, device=args.device, num_steps=args.num_steps,
                            root=root, progress=not args.quiet)
    print(f"{args.name} at budget {args.budget}: done")


def _status(args) -> None:
    from gngan import experiments

    root = Path(args.results_root) if args.results_root else None
    rows = experiments.remaining_work(args.budget, root)
    if not rows:
        print(f"budget {args.budget}: every run is stored")
        return
    width = max(len("method"), *(len(r["method"]) for r in rows))
    print(f"{'section':13s} {'method':{width}s} {'seeds':>5s} {'resume from':>16s} {'hours left (one core, est.)':>28s}")
    for r in rows:
        hours = "not measured" if r["hours"] is None else f"{r['hours']:.1f}"
        resume = f"{r['resume_from']:,}/{r['num_steps']:,}"
        now = "  (training now)" if r["training_now"] else ""
        print(f"{r['section']:13s} {r['method']:{width}s} {len(r['seeds']):5d} {resume:>16s} {hours:>28s}{now}")
    known = [r["hours"] for r in rows if r["hours"] is not None]
    print(f"total: {sum(known):.1f} hours on one core for {len(known)} of {len(rows)} methods with a measured cost")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gngan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train (or resume) one run from a config JSON")
    p.add_argument("--config", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_train)
    s = sub.add_parser("section", help="train (or resume) every run of a book section")
    s.add_argument("name", choices=SECTIONS)
    s.add_argument("--budget", default="cpu", choices=BUDGETS)
    s.add_argument("--seeds", default=None, help="comma-separated seeds (default: the budget's)")
    s.add_argument("--num-steps", type=int, default=None)
    s.add_argument("--methods", default=None, help="comma-separated method keys (2D and image sections; default: all)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--results-root", default=None, help="default: results/ of the repository")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_section)
    t = sub.add_parser("status", help="list the runs still missing at a budget, with time estimates")
    t.add_argument("--budget", default="cpu", choices=BUDGETS)
    t.add_argument("--results-root", default=None, help="default: results/ of the repository")
    t.set_defaults(func=_status)
    args = parser.parse_args(argv)
    from gngan.trainer import RunInUseError  # after parse_args: --help needs no torch

    try:
        args.func(args)
    except (ValueError, FileNotFoundError, RunInUseError) as err:
        print(f"gngan: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
