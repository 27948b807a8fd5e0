"""Which package may import which: one table, checked over every .py file of every package.

Why: the layering is what lets a TPU host run `mnlu data` without jax, merge a 7B model on a machine without an
accelerator stack, and keep PyTorch a test-only reference. A rule lives in `RULES`; change the table, not the test.

Two checks. Static: every `import` / `from … import` in the package's source, at module level or inside a
function (lazy imports count), parsed with `ast`. Runtime: for the packages marked `pure`, every module is imported
in a fresh interpreter and `sys.modules` must hold none of the forbidden modules afterwards, which also catches a
third-party library that pulls them in behind our back.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ACCELERATOR_STACK = ("jax", "jaxlib", "flax", "optax", "orbax")
NEVER_AT_RUNTIME = ("torch", "safetensors.torch")  # PyTorch is a test-only reference
NEVER_IN_OUR_SOURCE = ("pickle", "dill", "cloudpickle")  # never unpickle (the stdlib may import pickle itself)


@dataclass(frozen=True)
class Rule:
    """`project`: the packages of this project it may import (itself included); `forbidden`: third-party
    modules (a name forbids its submodules too) it must never import; `pure`: also checked at runtime."""

    project: frozenset[str]
    forbidden: tuple[str, ...]
    pure: bool = False


RULES: dict[str, Rule] = {
    # the data side: runs where no accelerator stack is installed (design.md §1)
    "mnlu": Rule(frozenset({"mnlu"}), ACCELERATOR_STACK + ("transformers", "vllm") + NEVER_AT_RUNTIME, pure=True),
    # training imports the prompt format and tokenizer from mnlu, nothing from merge/eval
    "train_jax": Rule(frozenset({"train_jax", "mnlu"}), ("transformers", "vllm") + NEVER_AT_RUNTIME),
    # merging is NumPy/tensorstore only: a 7B merge needs no jax, no torch
    "merge": Rule(frozenset({"merge"}), ACCELERATOR_STACK + ("transformers", "vllm") + NEVER_AT_RUNTIME, pure=True),
    # evaluation: our JAX backend (train_jax), the prompt format (mnlu); vllm only inside its own backend
    "eval": Rule(frozenset({"eval", "mnlu", "train_jax"}), NEVER_AT_RUNTIME),
    # the end-to-end driver starts the other packages' entry points (`python -m ...`); it imports none of them
    "pipeline": Rule(frozenset({"pipeline", "mnlu"}), ACCELERATOR_STACK + ("transformers", "vllm") + NEVER_AT_RUNTIME,
                     pure=True),
}
VLLM_ONLY_IN = {"eval/backends/vllm_backend.py"}
PROJECT_PACKAGES = frozenset(RULES)


def _packages() -> list[str]:
    """The top-level packages pyproject.toml ships (its `packages.find.include` patterns)."""
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(p.removesuffix("*") for p in patterns if (REPO / p.removesuffix("*") / "__init__.py").exists())


def _imports(source: str, package: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the source; relative imports resolve to `package`."""
    tree = ast.parse(source, filename=filename)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, package))
            else:
                found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _matches(module: str, names: tuple[str, ...]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


def test_every_shipped_package_has_a_rule():
    packages = _packages()
    assert set(packages) == set(RULES), (
        f"pyproject.toml ships {packages}, the table has rules for {sorted(RULES)}: add a row to RULES"
    )


@pytest.mark.parametrize("package", sorted(RULES))
def test_static_imports_follow_the_table(package):
    rule = RULES[package]
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"{package}: no source files"
    broken = []
    for path in files:
        rel = path.relative_to(REPO).as_posix()
        for line, module in _imports(path.read_text(), package, rel):
            top = module.split(".")[0]
            if top in PROJECT_PACKAGES and top not in rule.project:
                broken.append(f"{rel}:{line} imports {module} ({package} may import {sorted(rule.project)})")
            if _matches(module, rule.forbidden + NEVER_IN_OUR_SOURCE):
                broken.append(f"{rel}:{line} imports {module}, forbidden in {package}")
            if _matches(module, ("vllm",)) and rel not in VLLM_ONLY_IN:
                broken.append(f"{rel}:{line} imports vllm outside {sorted(VLLM_ONLY_IN)}")
    assert not broken, "\n".join(broken)


PROBE = """
import importlib, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
names = sorted(".".join(p.with_suffix("").parts).removesuffix(".__init__") for p in root.rglob("*.py"))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("package", sorted(p for p, r in RULES.items() if r.pure))
def test_importing_every_module_loads_nothing_forbidden(package):
    done = subprocess.run([sys.executable, "-c", PROBE, package], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["imported"]) > 3, result["imported"]
    rule = RULES[package]
    other_packages = tuple(sorted(PROJECT_PACKAGES - rule.project))
    leaked = sorted(m for m in result["modules"] if _matches(m, rule.forbidden + other_packages))
    assert leaked == [], f"importing {package} loaded {leaked[:10]}"


def test_the_checker_sees_lazy_and_relative_imports():
    """The static check is only as good as `_imports`: function-level and relative imports are found."""
    source = "from . import rows\n\ndef f():\n    import torch\n    from jax import numpy\n"
    found = _imports(source, "merge")
    assert {(1, "merge"), (4, "torch"), (5, "jax"), (5, "jax.numpy")} <= set(found)
    assert _matches("safetensors.torch", NEVER_AT_RUNTIME) and not _matches("torchvision_like", ("torch",))
