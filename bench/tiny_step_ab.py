"""`mnlu train --config configs/tiny.yaml` step time and peak RSS, this tree against an earlier revision of itself,
runs interleaved in the same session (issue 11: "step time not worse than today by more than 5%").

    .venv/bin/python bench/tiny_step_ab.py --baseline 43055e7 --pairs 3 --steps 8

The baseline is checked out with `git worktree` into a temporary folder and run with this venv (PYTHONPATH first,
so its own packages are imported); each tree uses its own configs/tiny.yaml and builds its own demo data once
before timing. A run's step time is the median `step_time_s` of metrics.jsonl after the first (compiling) step;
the figure reported is the median over runs, with the ratio new / baseline. Peak RSS is `/usr/bin/time -v`'s.
Why interleaved: the host's load drifts over minutes; alternating runs exposes both trees to the same drift.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(tree: Path, steps: int, out: Path, env_extra: dict[str, str]) -> tuple[float, float]:
    """(median step seconds after the first step, peak RSS GB) of one `mnlu train` in `tree`."""
    shutil.rmtree(out, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "MNLU_HOST_MALLOC", "GLIBC_TUNABLES")}
    env.update(env_extra, PYTHONPATH=str(tree))
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "mnlu.cli", "train", "--config", "configs/tiny.yaml",
           "--max_steps", str(steps), "--logging_steps", "1", "--output_dir", str(out), "--report_to", "none",
           "--disable_tqdm", "true"]
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: mnlu train failed ({done.returncode}):\n{done.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1e6
    times = [r["step_time_s"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
             if "step_time_s" in r and r.get("step", 0) > 1]
    return statistics.median(times), rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="43055e7", help="git revision to compare with (default: the tree the "
                    "issue measured)")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--baseline-env", nargs="*", default=[], metavar="KEY=VALUE",
                    help="environment of the baseline runs only")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tiny_ab_"))
    old = work / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.baseline], check=True,
                   capture_output=True)
    trees = {"baseline": (old, dict(kv.split("=", 1) for kv in args.baseline_env)), "this tree": (ROOT, {})}
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    try:
        for name, (tree, env) in trees.items():  # warm-up: each tree builds its demo data (runs/tiny) once
            run_once(tree, 2, work / f"warm_{name.replace(' ', '_')}", env)
        for i in range(args.pairs):
            for name, (tree, env) in trees.items():
                step, rss = run_once(tree, args.steps, work / "out", env)
                results[name].append((step, rss))
                print(f"pair {i + 1} {name:<9} median step {step:.3f} s, peak RSS {rss:.2f} GB", flush=True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    med = {k: (statistics.median(s for s, _ in v), max(r for _, r in v)) for k, v in results.items()}
    for k, (s, r) in med.items():
        print(f"{k:<9} step {s:.3f} s (median of {args.pairs}), peak RSS {r:.2f} GB")
    ratio = med["this tree"][0] / med["baseline"][0]
    print(f"step time this tree / baseline {args.baseline}: {ratio:.3f} ({100 * (ratio - 1):+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
