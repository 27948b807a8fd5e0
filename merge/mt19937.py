"""Jump-ahead for MT19937, so MergeLM's single torch stream can be entered at any draw index.

MergeLM draws every Bernoulli mask from one sequential MT19937 stream (torch's CPU generator). To reproduce it
bit for bit without generating the ~7e9 draws the zero-delta base slot throws away, and to let several threads
work on different parts of the stream, we jump: the state after D draws is a(T)·state with a(x) = x^D mod P(x),
P the characteristic polynomial of the MT19937 transition T (degree 19937). P is recovered once by
Berlekamp-Massey from the generator's own output; the jump is then a GF(2) modular power plus a Horner pass.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

N, M = 624, 397
MATRIX_A = 0x9908B0DF
UPPER, LOWER = 0x80000000, 0x7FFFFFFF
DEGREE = 19937

_SPREAD = np.array([sum(((b >> i) & 1) << (2 * i) for i in range(8)) for b in range(256)], dtype="<u2")
_lock = threading.Lock()


def seeded_key(seed: int) -> np.ndarray:
    """The 624-word MT19937 key right after `init_genrand(seed)` (torch.manual_seed and RandomState agree)."""
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed {seed} outside [0, 2**32): torch and numpy MT19937 seeding only agree there")
    return np.random.RandomState(seed).get_state()[1].astype(np.uint32)


def _berlekamp_massey(bits: list[int]) -> tuple[int, int]:
    """Shortest LFSR (connection polynomial as an int, bit i = coefficient of x^i; length L) for `bits`."""
    c, b, length, m = 1, 1, 0, 1
    window = 0  # bit i of window = bits[n - i]
    for n, s in enumerate(bits):
        window = (window << 1) | s
        d = (c & window).bit_count() & 1
        if d == 0:
            m += 1
        elif 2 * length <= n:
            t = c
            c ^= b << m
            length, b, m = n + 1 - length, t, 1
        else:
            c ^= b << m
            m += 1
    return c, length


@functools.lru_cache(maxsize=1)
def characteristic_polynomial() -> int:
    """P(x) of the MT19937 transition (one output per step), as an int with bit i = coefficient of x^i."""
    mt = np.random.MT19937(12345)
    outs = mt.random_raw(2 * DEGREE + 64)
    bits = [int(v) & 1 for v in outs]
    conn, length = _berlekamp_massey(bits)
    if length != DEGREE:
        raise RuntimeError(f"Berlekamp-Massey gave degree {length}, expected {DEGREE}")
    # P(x) = x^L C(1/x): reverse the L+1 coefficients.
    return int(format(conn, f"0{length + 1}b")[::-1], 2)


@functools.lru_cache(maxsize=1)
def _reduction_table() -> list[int]:
    """TQ[t] = q·P whose coefficients at x^L..x^{L+7} equal t, for byte-wise reduction mod P."""
    p = characteristic_polynomial()
    table = [0] * 256
    for q in range(256):
        prod = 0
        for i in range(8):
            if (q >> i) & 1:
                prod ^= p << i
        table[(prod >> DEGREE) & 0xFF] = prod
    return table


def _square(a: int) -> int:
    if a == 0:
        return 0
    raw = np.frombuffer(a.to_bytes((a.bit_length() + 7) // 8, "little"), np.uint8)
    return int.from_bytes(_SPREAD[raw].tobytes(), "little")


def _reduce(r: int) -> int:
    table, p = _reduction_table(), characteristic_polynomial()
    while True:
        excess = r.bit_length() - 1 - DEGREE
        if excess < 7:
            break
        shift = excess - 7
        r ^= table[(r >> (DEGREE + shift)) & 0xFF] << shift
    while r.bit_length() - 1 >= DEGREE:
        r ^= p << (r.bit_length() - 1 - DEGREE)
    return r


def jump_polynomial(draws: int) -> int:
    """x^draws mod P(x)."""
    r = 1
    for bit in bin(draws)[2:]:
        r = _reduce(_square(r))
        if bit == "1":
            r = _reduce(r << 1)
    return r


def _apply(poly: int, key: np.ndarray) -> np.ndarray:
    """Σ a_i T^i(window) by Horner, on the sliding-window form of the state (x_k .. x_{k+623})."""
    deg = poly.bit_length() - 1
    buf = np.zeros(N + deg + 1, dtype=np.uint32)
    lst = buf  # alias, readable name below
    k = 0
    for i in range(deg, -1, -1):
        y = (int(lst[k]) & UPPER) | (int(lst[k + 1]) & LOWER)
        lst[k + N] = int(lst[k + M]) ^ (y >> 1) ^ (MATRIX_A if y & 1 else 0)
        k += 1
        if (poly >> i) & 1:
            buf[k : k + N] ^= key
    return buf[k : k + N].copy()


def state_after(seed: int, draws: int) -> dict:
    """numpy MT19937 state dict positioned so that the next 32-bit output is draw number `draws` of the
    stream `RandomState(seed)` (equivalently torch.manual_seed(seed) on the CPU)."""
    key = seeded_key(seed)
    if draws == 0:
        window = key
    else:
        with _lock:  # the lru caches are filled once
            poly = jump_polynomial(draws)
        window = _apply(poly, key)
    # pos = 624: the next call twists, producing x_{draws+624}, whose tempered value is draw `draws`.
    return {"bit_generator": "MT19937", "state": {"key": window, "pos": N}}


def generator_at(seed: int, draws: int) -> np.random.Generator:
    """A numpy Generator whose `integers(0, 2**32, n, dtype=uint32)` continues the stream at `draws`."""
    mt = np.random.MT19937()
    mt.state = state_after(seed, draws)
    return np.random.Generator(mt)
