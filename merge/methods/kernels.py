"""The arithmetic of the merge methods: pure per-chunk NumPy functions over float32 arrays.

Every function takes flat float32 chunks (same element range of the same tensor in each model) and writes the
merged float32 chunk into `out`. Deltas travel negated (nd = base - model): base - c*nd equals base + c*(model -
base) bit for bit (IEEE rounding is sign-symmetric) and, unlike it, leaves base untouched where the delta is
zero, signed zeros included; so merge(base, base) = base exactly. Masks are uint32 all-ones/zero words ANDed
into the fp32 bits (cheaper than np.where, and free of branch mispredictions).

Semantics follow mergekit (names, defaults, TIES sign election, normalisation) with fp32 arithmetic throughout;
`mergelm_average` replays MergeLM's `mask_merging` + `average_merging` operation order instead.
"""

from __future__ import annotations

import numpy as np

SIGN = np.uint32(0x80000000)
ABS = np.uint32(0x7FFFFFFF)


def apply_mask(x: np.ndarray, mask: np.ndarray) -> None:
    """Zero the elements of fp32 `x` whose uint32 mask word is 0 (in place)."""
    np.bitwise_and(x.view(np.uint32), mask, out=x.view(np.uint32))


def magnitude_mask(nd: np.ndarray, threshold_bits: int, out: np.ndarray) -> np.ndarray:
    """All-ones where |nd| >= the threshold (given as fp32 bits of a non-negative value), else zero."""
    np.bitwise_and(nd.view(np.uint32), ABS, out=out)
    as_int = out.view(np.int32)
    np.subtract(np.int32(threshold_bits - 1), as_int, out=as_int)
    np.right_shift(as_int, 31, out=as_int)
    return out


def linear(models: list[np.ndarray], weights: list[float], normalize: bool, out: np.ndarray,
           scratch: np.ndarray) -> np.ndarray:
    """sum_i w_i * M_i, divided by sum_i w_i when normalising (mergekit `linear`)."""
    w32 = [np.float32(w) for w in weights]
    np.multiply(models[0], w32[0], out=out)
    for m, w in zip(models[1:], w32[1:], strict=True):
        np.multiply(m, w, out=scratch)
        np.add(out, scratch, out=out)
    if normalize:
        total = np.float32(sum(w32[1:], w32[0]))
        if abs(float(total)) >= 1e-8:
            np.divide(out, total, out=out)
    return out


def weighted_delta_sum(base: np.ndarray, nds: list[np.ndarray], weights: list[float], normalize: bool,
                       lam: float, out: np.ndarray) -> np.ndarray:
    """base + lam * (sum_j w_j * delta_j) [/ sum_j w_j]: mergekit's generalized task arithmetic without
    consensus, in its operation order (weights, sum in model order, divide, lambda) so fp32 results match it
    bit for bit. `nds` hold negated deltas and are overwritten with negated weighted ones."""
    w32 = [np.float32(w) for w in weights]
    for nd, w in zip(nds, w32, strict=True):
        np.multiply(nd, w, out=nd)
    np.copyto(out, nds[0])
    for nd in nds[1:]:
        np.add(out, nd, out=out)
    if normalize:
        total = w32[0]
        for w in w32[1:]:
            total = np.float32(total + w)
        if abs(float(total)) >= 1e-8:
            np.divide(out, total, out=out)
    if lam != 1:
        np.multiply(out, np.float32(lam), out=out)
    np.subtract(base, out, out=out)
    return out


def ties_combine(base: np.ndarray, nds: list[np.ndarray], weights: list[float], normalize: bool, lam: float,
                 out: np.ndarray, work: np.ndarray, divisor: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """mergekit's TIES: elect the sign of sum_j w_j*delta_j (>= 0 counts as +), keep the nonzero weighted deltas
    of that sign, sum them, divide by the sum of the agreeing weights when normalising, scale by lambda, add to
    base. `nds` hold negated deltas and are overwritten with negated weighted ones."""
    w32 = [np.float32(w) for w in weights]
    for nd, w in zip(nds, w32, strict=True):
        np.multiply(nd, w, out=nd)  # -(w_j delta_j)
    np.copyto(work, nds[0])
    for nd in nds[1:]:
        np.add(work, nd, out=work)  # -(sum_j w_j delta_j)
    # Elected sign + (sum >= 0, i.e. negated sum <= 0): agreeing negated terms are negative, so want the sign bit.
    want = np.where(np.less_equal(work, 0), SIGN, np.uint32(0)).astype(np.uint32)
    out.fill(0)
    divisor.fill(0)
    for nd, w in zip(nds, w32, strict=True):
        np.bitwise_and(nd.view(np.uint32), SIGN, out=mask)
        agree = np.equal(mask, want)
        np.logical_and(agree, np.not_equal(nd, 0), out=agree)
        np.copyto(mask, agree, casting="unsafe")
        np.negative(mask.view(np.int32), out=mask.view(np.int32))  # 1 -> all ones
        apply_mask(nd, mask)
        np.add(out, nd, out=out)
        np.add(divisor, np.where(agree, w, np.float32(0)), out=divisor)
    if normalize:
        divisor[divisor == 0] = 1
        np.divide(out, divisor, out=out)
    if lam != 1:
        np.multiply(out, np.float32(lam), out=out)
    np.subtract(base, out, out=out)
    return out


def mergelm_average(base: np.ndarray, slots: list[int | None], nds: list[np.ndarray], out: np.ndarray) -> np.ndarray:
    """MergeLM's average_merging over masked models: (slot_0 + slot_1 + ...) / K in fp32, where a slot is the
    base (None: its zero delta) or base + masked/rescaled delta j. `nds` hold the masked, rescaled negated deltas
    and are overwritten with the slot values. torch's stack().mean(0) adds from a zero accumulator and flushes
    three zero partial sums, so the total gets a final `+ 0` (it only turns -0 into +0)."""
    values = []
    for s in slots:
        if s is None:
            values.append(base)
        else:
            np.subtract(base, nds[s], out=nds[s])
            values.append(nds[s])
    if len(values) == 1:
        np.add(values[0], np.float32(0), out=out)
    else:
        np.add(values[0], values[1], out=out)
        for v in values[2:]:
            np.add(out, v, out=out)
        np.add(out, np.float32(0), out=out)
    k = len(values)
    if k & (k - 1) == 0:
        np.multiply(out, np.float32(1.0 / k), out=out)  # exact: same value as dividing by a power of two
    else:
        np.divide(out, np.float32(k), out=out)
    return out
