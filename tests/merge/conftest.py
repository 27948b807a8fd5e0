"""Session-wide tiny checkpoints (built once: creating them imports torch and transformers)."""

from __future__ import annotations

import pytest

from .helpers import make_model_dir


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge_models")
    base = make_model_dir(root / "base", seed=0)
    ft = make_model_dir(root / "ft", seed=1, like=base)
    ft2 = make_model_dir(root / "ft2", seed=2, like=base)
    base32 = make_model_dir(root / "base32", seed=3, dtype="float32")
    ft32 = make_model_dir(root / "ft32", seed=4, dtype="float32", like=base32)
    ft32b = make_model_dir(root / "ft32b", seed=5, dtype="float32", like=base32)
    return {"base": base, "ft": ft, "ft2": ft2, "base32": base32, "ft32": ft32, "ft32b": ft32b, "root": root}
