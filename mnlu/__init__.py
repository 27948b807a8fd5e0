"""MNLU-Instruct: medical NLU corpora in their native formats, converted to one instruction format.

This package never imports jax, torch or the other packages of the project.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
