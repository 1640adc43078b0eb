"""Command line: ``python -m gngan train --config cfg.json --run-dir DIR``,
``python -m gngan section 01_1d --budget cpu``, ``python -m gngan status --budget cpu`` (what is left), and the
gpu budget's ``gpu-run`` (on the GPU machine; ``tools/gpu-run.sh``) and ``gpu-import`` (here, afterwards)."""

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
    from gngan import experiments, launch

    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    methods = args.methods.split(",") if args.methods else None
    root = Path(args.results_root) if args.results_root else None
    configs, shared = experiments.section_configs(args.name, args.budget, seeds=seeds, num_steps=args.num_steps,
                                                  methods=methods, root=root)
    if shared:
        print(f"{', '.join(shared)}: the sweep chose the shared protocol; Table 2's rows are their tuned rows")
    if args.launcher == "inline":
        experiments.run_section(args.name, configs, args.budget, device=args.device, num_steps=args.num_steps,
                                root=root, progress=not args.quiet)
        print(f"{args.name} at budget {args.budget}: done")
        return None
    jobs = launch.jobs_for(args.name, args.budget, configs, num_steps=args.num_steps, root=root)
    if not jobs:
        print(f"{args.name} at budget {args.budget}: every run is stored")
        return None
    options = launch.LaunchOptions.from_args(args)
    return launch.launch(jobs, options)


def _status(args) -> None:
    _work_status(args)
    _job_status(args)


def _job_status(args) -> None:
    from gngan import launch

    folder = Path(args.jobs_dir) if args.jobs_dir else launch.DEFAULT_JOBS_DIR
    rows = launch.job_rows(args.budget, folder)
    if rows:
        print(f"\njobs launched at budget {args.budget} (registry {folder / launch.REGISTRY}):")
        width = max(len(r[0]) for r in rows)
        for name, launcher, job_id, state, log in rows:
            print(f"  {name:{width}s} {launcher:6s} {job_id:>10s} {state:9s} {log}")


def _work_status(args) -> None:
    from gngan import experiments

    root = Path(args.results_root) if args.results_root else None
    if args.budget == "gpu":  # only the image sections have a gpu plan; 1D and 2D show their cpu runs
        from gngan import gpurun

        todo = gpurun.pending_runs(gpurun.budget_runs(), root)
        if not todo:
            print("budget gpu: every run is stored")
            return
        minutes = gpurun.planned_minutes(todo, gpurun.iteration_flops(todo))
        for section, m in minutes.items():
            names = [r.name.split("/", 1)[1] for r in todo if r.section == section]
            print(f"{section:13s} {len(names):2d} runs, {m:5.1f} min at {experiments.GPU_PLANNING_TFLOPS:g} TFLOP/s "
                  f"(planning rate): {', '.join(names)}")
        print("train them on a GPU machine: python -m gngan gpu-pack here, then tools/gpu-stage-weights.sh and "
              "tools/gpu-run.sh there (README, 'The gpu budget'), then python -m gngan gpu-import <folder>")
        return
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


def _csv(value: str | None) -> list[str] | None:
    return value.split(",") if value else None


def _gpu_run(args) -> None:
    from gngan import gpurun

    record = gpurun.gpu_run(Path(args.out), minutes=args.minutes, device=args.device, tiny=args.tiny,
                            sections=_csv(args.sections), methods=_csv(args.methods),
                            root=Path(args.results_root) if args.results_root else None,
                            warmup_s=args.warmup_seconds, check_every_s=args.check_every_seconds)
    runs = record.get("runs", {})
    done = sum(r["status"] == "done" for r in runs.values())
    print(f"gpu-run: {done} of {len(runs)} runs done in {record['wall_s']:.0f} s; outputs in {args.out}")


def _gpu_worker(args) -> int:
    from gngan import gpurun

    (run,) = [r for r in gpurun.budget_runs(args.tiny, [args.section], [args.method]) if r.seed == args.seed]
    return gpurun.work(run, Path(args.results_root), args.device, Path(args.progress_file), Path(args.stop_file))


def _gpu_import(args) -> None:
    from gngan import gpurun

    root = Path(args.results_root) if args.results_root else None
    names = gpurun.gpu_import(Path(args.folder), root=root, allow_tiny=args.allow_tiny)
    print(f"gpu-import: {len(names)} runs imported" + "".join(f"\n  {n}" for n in names))


def _gpu_pack(args) -> None:
    from gngan import experiments, gpurun

    todo = gpurun.pending_runs(gpurun.budget_runs())
    minutes = gpurun.planned_minutes(todo, gpurun.iteration_flops(todo))
    print(f"gpu budget: {len(todo)} runs not stored; at the planning rate of {experiments.GPU_PLANNING_TFLOPS:g} "
          f"TFLOP/s: " + ", ".join(f"{s} {m:.1f} min" for s, m in minutes.items()))
    calls = gpurun.pack_carry(experiments.REPO_ROOT, weights_scheme=args.weights)
    commands = {gpurun.WEIGHTS_CARRY: "bash tools/gpu-stage-weights.sh", gpurun.CARRY: "bash tools/gpu-run.sh"}
    for i, (folder, sizes) in enumerate(calls.items(), 1):
        print(f"call {i}: carry=['{folder}'], command '{commands[folder]}' ({sizes['total'] / 2**20:.1f} of 64 MiB)")
        for k, v in sizes.items():
            if k != "total":
                print(f"    {k:58s} {v / 2**20:8.2f} MiB")
    print("make call 2 at once after call 1: the machine stays warm only ~30 s, and the first part of the "
          "weights waits in its /tmp")


def _book_tags(args) -> None:
    from gngan.book import remove_injected_parameters

    for path in args.notebooks:
        remove_injected_parameters(path)


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
    s.add_argument("--methods", default=None, help="comma-separated method keys (default: all of the section's)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--results-root", default=None, help="default: results/ of the repository")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--launcher", default="inline", choices=("inline", "local", "slurm"),
                   help="inline: here, one run group after another (default); local: parallel jobs on this machine; "
                        "slurm: one SLURM job per run group (both through submitit)")
    s.add_argument("--jobs", type=int, default=None, help="local: this many one-thread CPU jobs at once")
    s.add_argument("--gpus", default=None, help="local: comma-separated GPU indices, one job per GPU at once")
    s.add_argument("--slurm-config", default=None, help="slurm: a JSON file of the options below")
    s.add_argument("--partition", default=None, help="slurm partition")
    s.add_argument("--time-min", type=int, default=None, help="slurm: time limit per job in minutes")
    s.add_argument("--gpus-per-job", type=int, default=None, help="slurm: GPUs per job (default 1; 0 for CPU jobs)")
    s.add_argument("--account", default=None, help="slurm account")
    s.add_argument("--jobs-dir", default=None, help="submitit's folder of job scripts and logs (default: logs/jobs)")
    s.set_defaults(func=_section)
    t = sub.add_parser("status", help="list the runs still missing at a budget, with time estimates")
    t.add_argument("--budget", default="cpu", choices=BUDGETS)
    t.add_argument("--results-root", default=None, help="default: results/ of the repository")
    t.add_argument("--jobs-dir", default=None, help="the launchers' job folder (default: logs/jobs)")
    t.set_defaults(func=_status)
    g = sub.add_parser("gpu-run", help="train the gpu budget's missing image runs on one GPU within a deadline")
    g.add_argument("--out", required=True, help="folder for the outputs (the device machine's $OUT)")
    g.add_argument("--minutes", type=float, default=8.0, help="wall-clock limit for everything (default 8)")
    g.add_argument("--device", default="cuda")
    g.add_argument("--tiny", action="store_true", help="tiny networks and counts: a test of the path on a CPU")
    g.add_argument("--sections", default=None, help="comma-separated image sections (default: all, in order)")
    g.add_argument("--methods", default=None, help="comma-separated method keys (default: all)")
    g.add_argument("--results-root", default=None, help="where stored runs are looked up (default: results/)")
    g.add_argument("--warmup-seconds", type=float, default=45.0, help="before the first throughput measurement")
    g.add_argument("--check-every-seconds", type=float, default=10.0)
    g.set_defaults(func=_gpu_run)
    w = sub.add_parser("gpu-worker", help="one run of gpu-run (started by it)")
    w.add_argument("--section", required=True)
    w.add_argument("--method", required=True)
    w.add_argument("--seed", type=int, required=True)
    w.add_argument("--results-root", required=True)
    w.add_argument("--device", default="cuda")
    w.add_argument("--progress-file", required=True)
    w.add_argument("--stop-file", required=True)
    w.add_argument("--tiny", action="store_true")
    w.set_defaults(func=_gpu_worker)
    i = sub.add_parser("gpu-import", help="store a gpu run's finished runs under results/<section>/gpu/")
    i.add_argument("folder")
    i.add_argument("--results-root", default=None, help="default: results/ of the repository")
    i.add_argument("--allow-tiny", action="store_true", help="import a tiny test run (only with --results-root)")
    i.set_defaults(func=_gpu_import)
    k = sub.add_parser("gpu-pack", help="fill .gpu-carry/ with what the GPU machine lacks, and check the sizes")
    k.add_argument("--weights", default="fp16", help="compact scheme of the FID Inception weights (fp16: the "
                                                        "one whose FID shift passed; int8 did not)")
    k.set_defaults(func=_gpu_pack)
    b = sub.add_parser("book-tags", help="hide papermill's injected-parameters cell of executed notebooks in the book")
    b.add_argument("notebooks", nargs="+")
    b.set_defaults(func=_book_tags)
    args = parser.parse_args(argv)
    from gngan.trainer import RunInUseError  # after parse_args: --help needs no torch

    try:
        code = args.func(args)
    except (ValueError, FileNotFoundError, RunInUseError) as err:
        print(f"gngan: error: {err}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
