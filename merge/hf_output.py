"""The non-tensor half of the output HF directory: config, generation config, tokenizer, model card, report.

Tokenizer files are copied from a donor directory (the base by default) with its chat template; for MergeLM's
`[PAD]` recipe the token is appended to the copied tokenizer files (JSON edits, no transformers import).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .dtypes import TORCH_NAMES
from .errors import MergeError
from .plan import Plan

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                   "added_tokens.json", "chat_template.jinja", "chat_template.json")
PAD_TOKEN = "[PAD]"


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def output_vocab(plan: Plan) -> int | None:
    for t in plan.tensors:
        if t.name == "model.embed_tokens.weight":
            return t.shape[0]
    return None


def write_config(plan: Plan, out: Path) -> dict:
    cfg = dict(plan.base.config)
    vocab = output_vocab(plan)
    if vocab is not None:
        cfg["vocab_size"] = vocab
    dtypes = {t.out_dtype for t in plan.tensors}
    main = TORCH_NAMES[plan.tensors[0].out_dtype] if len(dtypes) > 1 else TORCH_NAMES[dtypes.pop()]
    keys = [k for k in ("dtype", "torch_dtype") if k in cfg] or ["torch_dtype"]
    for k in keys:
        cfg[k] = main
    if plan.cfg.add_pad_token and vocab is not None:
        cfg["pad_token_id"] = vocab - 1
    _dump(out / "config.json", cfg)
    return cfg


def write_generation_config(plan: Plan, out: Path, config: dict) -> None:
    src = plan.base.path / "generation_config.json"
    gen = json.loads(src.read_text()) if src.is_file() else {}
    for key in ("bos_token_id", "eos_token_id"):
        if key not in gen and config.get(key) is not None:
            gen[key] = config[key]
    if plan.cfg.add_pad_token and config.get("pad_token_id") is not None:
        gen["pad_token_id"] = config["pad_token_id"]
    _dump(out / "generation_config.json", gen)


def tokenizer_donor(plan: Plan) -> Path:
    choice = plan.cfg.tokenizer_source
    if choice == "base":
        return plan.base.path
    if choice in ("finetuned", "model"):
        donor = plan.finetuned[0].path
    else:
        donor = Path(choice)
    if not any((donor / f).is_file() for f in TOKENIZER_FILES):
        raise MergeError(f"tokenizer_source {choice!r}: {donor} has no tokenizer files ({', '.join(TOKENIZER_FILES)})")
    return donor


def write_tokenizer(plan: Plan, out: Path) -> list[str]:
    donor = tokenizer_donor(plan)
    copied = []
    for name in TOKENIZER_FILES:
        if (donor / name).is_file():
            shutil.copyfile(donor / name, out / name)
            copied.append(name)
    if plan.cfg.add_pad_token:
        pad_id = output_vocab(plan) - 1
        _add_pad_token(out, pad_id)
    return copied


def _add_pad_token(out: Path, pad_id: int) -> None:
    """Append [PAD] as a special added token, as `tokenizer.add_special_tokens({'pad_token': '[PAD]'})` does."""
    entry = {"id": pad_id, "content": PAD_TOKEN, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
    tj = out / "tokenizer.json"
    if tj.is_file():
        data = json.loads(tj.read_text())
        data.setdefault("added_tokens", [])
        if not any(t.get("content") == PAD_TOKEN for t in data["added_tokens"]):
            data["added_tokens"].append(entry)
        tj.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    tc = out / "tokenizer_config.json"
    if tc.is_file():
        data = json.loads(tc.read_text())
        dec = data.setdefault("added_tokens_decoder", {})
        dec[str(pad_id)] = {k: v for k, v in entry.items() if k != "id"}
        data["pad_token"] = PAD_TOKEN
        _dump(tc, data)
    sm = out / "special_tokens_map.json"
    if sm.is_file():
        data = json.loads(sm.read_text())
        data["pad_token"] = PAD_TOKEN
        _dump(sm, data)


def write_model_card(plan: Plan, out: Path, recipe: dict) -> None:
    cfg = plan.cfg
    lines = [
        "---",
        "tags: [merge, mnlu]",
        "library_name: transformers",
        "---",
        "",
        "# Merged model",
        "",
        f"Merged with `mnlu merge` ({cfg.merge_method}, rng `{cfg.rng}`, seed {cfg.seed}).",
        "",
        f"- base: `{cfg.base_model}` (fingerprint `{recipe['base']['fingerprint'][:16]}`)",
    ]
    for m in recipe["models"]:
        lines.append(f"- model: `{m['path']}` weight {m['weight']}, drop_rate {m['drop_rate']} "
                     f"(fingerprint `{m['fingerprint'][:16]}`)")
    lines += [
        "",
        "The full recipe is in each shard's safetensors metadata (`mnlu_merge`); per-tensor delta statistics are in",
        "`merge_report.json`.",
    ]
    if cfg.rng == "mergelm":
        lines += ["", "rng `mergelm` reproduces MergeLM's `mask_merging` + `average_merging` bit for bit (fp32)."]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def write_report(plan: Plan, out: Path, recipe: dict, stats: dict) -> dict:
    def sig(x: float) -> float:
        return float(f"{x:.6g}")

    tensors = []
    for t in plan.tensors:
        st = stats.get(t.name)
        row = {"name": t.name, "shape": list(t.shape), "dtype": TORCH_NAMES[t.out_dtype], "merged": t.merged}
        if t.merged and st is not None:
            row["models"] = [
                {"kept_fraction": sig(st.kept[j] / max(1, st.numel)), "delta_l2": sig(st.delta_sq[j] ** 0.5),
                 "applied_delta_l2": sig(st.applied_sq[j] ** 0.5)}
                for j in range(len(plan.finetuned))
            ]
        tensors.append(row)
    report = {"recipe": recipe, "tensors": tensors}
    _dump(out / "merge_report.json", report)
    return report
