"""Property-test helpers for the readers: arbitrary bytes and mutated real files give records or FormatError."""

from __future__ import annotations

from hypothesis import strategies as st

ALPHABET = list("\t \n\r|;:,.0123456789atx<>/=\"'{}[]-")


@st.composite
def mutated(draw, data: bytes, max_edits: int = 4) -> bytes:
    """`data` with a few byte insertions, deletions and replacements, drawn near random positions."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        i = draw(st.integers(0, len(out)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        b = draw(st.sampled_from(ALPHABET)).encode() if draw(st.booleans()) else bytes([draw(st.integers(0, 255))])
        if op == "insert":
            out[i:i] = b
        elif op == "delete":
            del out[i:i + 1]
        elif op == "replace":
            out[i:i + 1] = b
        else:
            del out[i:]
    return bytes(out)
