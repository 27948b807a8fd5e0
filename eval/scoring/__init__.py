"""Scorers: paper-style (`paper`, the released scorer's semantics) and official (`metrics`, `align`)."""
