"""The 7B planning table of README's "Will it fit?": compile the paper's train step for each TPU topology and
per-device batch ahead of time (one compile per process, one at a time: ~4 GB RSS and minutes each on a CPU host),
keep each plan as JSON in bench/plans/, and print the markdown table from those files.

    .venv-tpu/bin/python bench/plan_table.py                      # the grid: v5p-8 v5p-64 v6e-8 v6e-256 × 1 4 16
    .venv-tpu/bin/python bench/plan_table.py --max-batch          # also the largest batch per topology
    .venv-tpu/bin/python bench/plan_table.py --table-only         # print the table of the JSONs already there

Why a script: each row is the project's own `mnlu train --compile-only` (the numbers a user gets), and a rerun
only recompiles what is missing (`--redo` to recompile everything after a model or sharding change).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "bench" / "plans"
CONFIG = ROOT / "configs" / "mistral7b_plan.yaml"


def _mnlu() -> str:
    return str(Path(sys.executable).with_name("mnlu"))


def _run(args: list[str], out: Path, redo: bool, timeout: int) -> dict | None:
    if out.exists() and not redo:
        return json.loads(out.read_text())
    cmd = [_mnlu(), "train", "--config", str(CONFIG), "--compile-only", *args, "--json", str(out)]
    print("$", " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        print(f"  failed ({done.returncode}) after {time.perf_counter() - t0:.0f}s: {done.stderr.strip()[-600:]}")
        return None
    print(f"  {time.perf_counter() - t0:.0f}s: " + " | ".join(done.stdout.strip().splitlines()[1:3]), flush=True)
    return json.loads(out.read_text())


def plan_name(topology: str, batch: int, accumulation: int, tag: str = "") -> str:
    return f"7b_{topology}_b{batch}" + (f"_acc{accumulation}" if accumulation > 1 else "") + tag + ".json"


def table(rows: list[tuple[str, int, int]], max_batches: dict[str, int | None], tag: str = "") -> str:
    lines = ["| topology | rows/device × micro | argument | temp | peak GiB/chip | HBM | fits (headroom) | "
             "FLOPs/step executed | MFU numerator | ideal step s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for topology, batch, acc in rows:
        path = PLANS / plan_name(topology, batch, acc, tag)
        if not path.exists():
            lines.append(f"| {topology} | {batch} × {acc} | – | – | not compiled | – | – | – | – | – |")
            continue
        p = json.loads(path.read_text())
        m, f = p["memory_per_device"], p.get("flops", {})
        fits = f"yes ({100 * p['headroom']:.1f}%)" if p["fits"] else f"NO ({100 * p['headroom']:.1f}%)"
        executed = max(f.get("executed", 0.0), f.get("executed_analytic", 0.0)) or None
        numerator = f.get("model_6NmatmulT_plus_causal_attention")
        lines.append(
            f"| {topology} | {batch} × {acc} | {m['argument_gib']:.2f} | {m['temp_gib']:.2f} | {m['peak_gib']:.2f} | "
            f"{p['hbm_gib']:.2f} | {fits} | " + (f"{executed:.3e}" if executed else "–") + " | "
            + (f"{numerator:.3e}" if numerator else "–") + " | "
            + (f"{p['ideal_step_s']:.2f}" if "ideal_step_s" in p and executed else "–") + " |")
    if max_batches:
        lines += ["", "| topology | largest rows/device that fits |", "|---|---|"]
        lines += [f"| {t} | {b if b is not None else 'not searched'} |" for t, b in max_batches.items()]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topologies", nargs="+", default=["v5p-8", "v5p-64", "v6e-8", "v6e-256"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--accumulation", nargs="*", default=[], metavar="TOPOLOGY:ROWSxMICRO",
                    help="extra rows with gradient accumulation, e.g. v6e-8:4x4 v6e-8:2x8")
    ap.add_argument("--flops-batches", nargs="*", type=int, default=None,
                    help="count FLOPs only at these batches (extra unrolled compiles); default: every batch")
    ap.add_argument("--max-batch", action="store_true", help="also search the largest per-device batch that fits")
    ap.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE",
                    help="training-config overrides for every compile, e.g. remat_policy=full_offload")
    ap.add_argument("--tag", default="", help="suffix of the JSON names (plans with other overrides)")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--redo", action="store_true", help="recompile plans whose JSON is already there")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per compile")
    args = ap.parse_args()
    tag = f"_{args.tag}" if args.tag else ""
    overrides = [x for kv in args.override for x in (f"--{kv.partition('=')[0]}", kv.partition("=")[2])]
    PLANS.mkdir(parents=True, exist_ok=True)
    rows = [(t, b, 1) for t in args.topologies for b in args.batches]
    for spec in args.accumulation:
        topology, _, shape = spec.partition(":")
        batch, _, micro = shape.partition("x")
        rows.append((topology, int(batch), int(micro)))
    max_batches: dict[str, int | None] = {}
    for topology, batch, acc in rows:
        if not args.table_only:
            no_flops = args.flops_batches is not None and batch not in args.flops_batches
            _run(["--topology", topology, "--per_device_train_batch_size", str(batch),
                  "--gradient_accumulation_steps", str(acc)] + (["--no-flops"] if no_flops else []) + overrides, PLANS / plan_name(topology, batch, acc, tag), args.redo,
                 args.timeout)
    if args.max_batch:
        for topology in args.topologies:
            out = PLANS / f"7b_{topology}_max_batch{tag}.json"
            r = (json.loads(out.read_text()) if out.exists() else None) if args.table_only else _run(
                ["--topology", topology, "--find-max-batch", *overrides], out, args.redo, 4 * args.timeout)
            max_batches[topology] = r["max_batch"] if r else None
    print(table(rows, max_batches, tag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
