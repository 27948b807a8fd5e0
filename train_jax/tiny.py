"""The embedded default model: built from `configs/tiny.yaml`'s `model:` section and a fixed seed.

It needs no download: the weights come from the seed and the tokenizer from `mistral-common`, so a fresh machine
can run the whole pipeline. `ensure_base_dir` materialises it once as an HF directory and reuses it after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from train_jax.config import ConfigError, ModelConfig

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_TINY = REPO_CONFIGS / "tiny.yaml"
_SHAPE_KEYS = {f for f in ModelConfig.__dataclass_fields__ if f != "extra"}


def model_section(path: str | Path = DEFAULT_TINY) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    section = data.get("model")
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: expected a 'model:' mapping describing the model to initialise")
    unknown = set(section) - _SHAPE_KEYS - {"init_seed"}
    if unknown:
        raise ConfigError(f"{path}: unknown model key(s) {sorted(unknown)}; valid: {sorted(_SHAPE_KEYS | {'init_seed'})}")
    return section


def tiny_config(path: str | Path = DEFAULT_TINY, **runtime: Any) -> tuple[ModelConfig, int]:
    section = dict(model_section(path))
    seed = int(section.pop("init_seed", 0))
    return ModelConfig(**section, **runtime), seed


def build_tiny_model(path: str | Path = DEFAULT_TINY, **runtime: Any):
    from train_jax.model import init_model

    cfg, seed = tiny_config(path, **runtime)
    return init_model(cfg, seed)


def ensure_base_dir(out: str | Path, path: str | Path = DEFAULT_TINY) -> Path:
    """The tiny model as an HF directory (with the tokenizer); built once, reused when its config matches."""
    from train_jax.hf import save_hf

    out = Path(out)
    cfg, seed = tiny_config(path)
    stamp = out / "init.json"
    want = {"model": {k: v for k, v in model_section(path).items()}, "init_seed": seed}
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return out
    model = build_tiny_model(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_hf(model, out, tokenizer=True, overwrite=True)
    (out / "init.json").write_text(json.dumps(want, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m train_jax.tiny --out DIR [--config FILE]`: write the seeded model as an HF directory (used by the
    pipeline's base stage)."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m train_jax.tiny", description=main.__doc__)
    ap.add_argument("--out", required=True, help="HF directory to write (reused when its shape and seed match)")
    ap.add_argument("--config", default=str(DEFAULT_TINY), help="YAML file with a 'model:' section (default tiny)")
    args = ap.parse_args(argv)
    try:
        out = ensure_base_dir(args.out, args.config)
    except ConfigError as e:
        print(f"python -m train_jax.tiny: {e}", file=sys.stderr)
        return 2
    print(f"[pipeline] base: model of {args.config} written to {out}", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
