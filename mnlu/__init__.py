"""MNLU-Instruct: medical NLU corpora in their native formats, converted to one instruction format.

This package never imports jax, torch or the other packages of the project.
"""

from pathlib import Path

__all__ = ["__version__", "demo_data_dir"]
__version__ = "0.1.0"


def demo_data_dir() -> Path:
    """The project's own small made-up corpus set, one folder per corpus in its native format
    (`mnlu data build --raw $(demo_data_dir)` builds a tiny MNLU-Instruct from it)."""
    return Path(__file__).resolve().parent / "demo_data"
