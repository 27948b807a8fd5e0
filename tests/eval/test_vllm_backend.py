"""vLLM backend: where vLLM imports, it generates token-identically to our JAX backend on an exported tiny model.
Elsewhere (the project venv on a CPU: vLLM lives in its own venv, see `make vllm-cpu-check`) it is skipped."""

from __future__ import annotations

import pytest

from eval.backends.vllm_backend import vllm_available

ok, why = vllm_available()
pytestmark = pytest.mark.skipif(not ok, reason=f"{why}; `make vllm-cpu-check` runs this parity in vLLM's own venv")


def test_vllm_token_identical_to_jax_backend(tmp_path):
    from eval import vllm_check

    vllm_check.prepare(tmp_path)
    vllm_check.run_vllm(tmp_path)
    assert vllm_check.compare(tmp_path) == 0
