"""`make bench`: every benchmark, each against its peer measured in the same run, then one table of ratios.

    .venv/bin/python bench/run_all.py [--full] [--only train,generate,merge,import]

By default the merge runs the 8-layer ("4 GB") configuration; `--full` runs the 7B-shaped one (two 14.5 GB inputs,
about 15 minutes with mergekit). mergekit 0.1.5 is installed into its own virtual environment on first use.
Each bench's own output is shown as it runs; the summary table comes last.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MERGEKIT_VENV = Path("/tmp/mergekit-venv")


def run(cmd: list[str]) -> str:
    print(f"\n$ {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        out.append(line)
    if proc.wait() != 0:
        print(f"(exit {proc.returncode})", flush=True)
    return "".join(out)


def ensure_mergekit() -> bool:
    exe = MERGEKIT_VENV / "bin" / "mergekit-yaml"
    if exe.exists():
        return True
    print(f"installing mergekit 0.1.5 into {MERGEKIT_VENV} (its own venv; torch pinned to the local CPU build)")
    ok = subprocess.run([sys.executable, "-m", "venv", str(MERGEKIT_VENV)]).returncode == 0
    ok = ok and subprocess.run([str(MERGEKIT_VENV / "bin" / "pip"), "install", "-q", "mergekit==0.1.5",
                                "torch==2.13.0"]).returncode == 0
    return ok and exe.exists()


def bench_train(rows: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "train.json"
        run([sys.executable, "bench/train_step.py", "--json", str(out)])
        if not out.is_file():
            rows.append(("train step", "failed", "see output above"))
            return
        data = json.loads(out.read_text())
    for prec, r in data.get("results", {}).items():
        if "speedup_vs_torch" in r:
            rows.append((f"train step ({prec})", f"{r['speedup_vs_torch']:.2f}x",
                         f"vs transformers + torch AdamW ({r['ours_tokens_per_s']:.0f} vs "
                         f"{r['torch_tokens_per_s']:.0f} tok/s; ours {100 * r['ours_of_ceiling']:.0f}% of matmul ceiling)"))


def bench_generate(rows: list[tuple[str, str, str]]) -> None:
    text = run([sys.executable, "bench/generate.py"])
    for m in re.finditer(r"^\| (\d+) \| (\d+) \| (\d+) \| ([\d.]+)x \|", text, re.M):
        rows.append((f"generation, batch {m.group(1)}", f"{float(m.group(4)):.2f}x",
                     f"vs transformers generate ({m.group(2)} vs {m.group(3)} new tok/s)"))


def bench_merge(rows: list[tuple[str, str, str]], full: bool) -> None:
    cmd = [sys.executable, "bench/merge.py", "--results", "/dev/null"]
    if not full:
        cmd += ["--layers", "8"]
    if not ensure_mergekit():
        cmd.append("--skip-mergekit")
    text = run(cmd)
    kit = re.search(r"^mergekit\s+([\d.]+) s\s+peak RSS\s+([\d.]+) GiB", text, re.M)
    floor = re.search(r"read floor ([\d.]+) s", text)
    for m in re.finditer(r"^mnlu merge (\w+)\s+([\d.]+) s\s+peak RSS\s+([\d.]+) GiB", text, re.M):
        mode, secs, rss = m.group(1), float(m.group(2)), float(m.group(3))
        if kit:
            rows.append((f"merge ({mode})", f"{float(kit.group(1)) / secs:.2f}x",
                         f"faster than mergekit; RSS {rss:.2f} vs {float(kit.group(2)):.2f} GiB"))
        if floor:
            rows.append((f"merge ({mode}) vs disk", f"{secs / float(floor.group(1)):.2f}x", "of the read-only floor"))


def bench_import(rows: list[tuple[str, str, str]]) -> None:
    text = run([sys.executable, "bench/hf_import_memory.py"])
    m = re.search(r"ours: .*= ([\d.]+) × largest tensor", text)
    if m:
        rows.append(("HF import memory", f"{float(m.group(1)):.2f}x", "transient overhead / largest tensor (≤ 1.5)"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the 7B-shaped merge (two 14.5 GB inputs)")
    ap.add_argument("--only", default="train,generate,merge,import")
    args = ap.parse_args()
    rows: list[tuple[str, str, str]] = []
    chosen = set(args.only.split(","))
    if "train" in chosen:
        bench_train(rows)
    if "generate" in chosen:
        bench_generate(rows)
    if "merge" in chosen:
        bench_merge(rows, args.full)
    if "import" in chosen:
        bench_import(rows)
    print("\n| benchmark | ratio | against |\n|---|---|---|")
    for name, ratio, peer in rows:
        print(f"| {name} | {ratio} | {peer} |")


if __name__ == "__main__":
    main()
