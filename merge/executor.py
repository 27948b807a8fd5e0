"""Run a plan: stream every tensor chunk by chunk through the merge method into the pre-laid-out shards.

The executor only schedules: it reads chunks, forms negated deltas, checks for NaN/Inf, hands each chunk to the
method (`merge.methods`: prepare once per run, then trim and combine per chunk), narrows and writes the result,
and gathers statistics. It knows no method by name.

The chunk list (tensor, rows r0..r1) is in module order; each worker thread takes one contiguous segment of it,
so it reads sequentially, and in mergelm mode walks its own stretch of MergeLM's draw stream (entered by
jump-ahead). A helper thread per worker reads the next chunk while the current one is computed; results go
straight to their final offsets. Nothing depends on the segment split: output bytes are the same for any
thread count and (in native mode, and in mergelm mode by construction) any chunk size.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import rng
from .dtypes import STORAGE, from_f32, itemsize
from .errors import MergeError
from .methods import ChunkContext
from .plan import Plan, TensorPlan
from .rows import pad_rows, read_model_rows
from .safetensors_io import ShardWriter, io_buffer
from .sources import HFSource


@dataclass(frozen=True)
class Chunk:
    index: int  # position in the global chunk list
    tensor: int
    r0: int
    r1: int


@dataclass
class ChunkStats:
    kept: list[int]
    delta_sq: list[float]
    applied_sq: list[float]


@dataclass
class TensorStats:
    numel: int = 0
    kept: list[int] = field(default_factory=list)
    delta_sq: list[float] = field(default_factory=list)
    applied_sq: list[float] = field(default_factory=list)


def make_chunks(plan: Plan, chunk_elements: int) -> list[Chunk]:
    out = []
    for ti, t in enumerate(plan.tensors):
        step = max(1, chunk_elements // t.row_len)
        for r0 in range(0, t.rows, step):
            out.append(Chunk(len(out), ti, r0, min(t.rows, r0 + step)))
    return out


def split_segments(plan: Plan, chunks: list[Chunk], n: int) -> list[list[Chunk]]:
    sizes = [(c.r1 - c.r0) * plan.tensors[c.tensor].row_len for c in chunks]
    total = sum(sizes)
    segments: list[list[Chunk]] = [[] for _ in range(n)]
    acc = 0
    for c, s in zip(chunks, sizes, strict=True):
        k = min(n - 1, int(acc * n / max(1, total)))
        segments[k].append(c)
        acc += s
    return [s for s in segments if s]


class _Worker:
    """One segment of the chunk list, with its buffers, its draw streams and its prefetching reader."""

    def __init__(self, run: Run, segment: list[Chunk]):
        self.run = run
        self.segment = segment
        plan = run.plan
        k = len(plan.finetuned)
        cap = run.capacity
        self.sets = [
            ([np.empty(cap, np.float32) for _ in range(k + 1)], io_buffer(cap * 4)) for _ in range(2)
        ]
        self.out = np.empty(cap, np.float32)
        self.scratch = np.empty(cap, np.float32)
        self.divisor = np.empty(cap, np.float32)
        self.mask = np.empty(cap, np.uint32)
        self.bits = np.empty(cap, np.uint32)
        self.narrow = io_buffer(cap * 4)
        self.streams: dict[int, rng.MergeLMStream] = {}

    def read(self, chunk: Chunk, which: int):
        plan = self.run.plan
        t = plan.tensors[chunk.tensor]
        arrays, raw = self.sets[which]
        base = read_model_rows(plan, None, t, chunk.r0, chunk.r1, arrays[0], raw, self.run.pads)
        fts = []
        if t.merged:
            for j in range(len(plan.finetuned)):
                fts.append(read_model_rows(plan, j, t, chunk.r0, chunk.r1, arrays[j + 1], raw, self.run.pads))
        return base, fts

    def draws(self, j: int, t: TensorPlan, chunk: Chunk, n: int) -> np.ndarray:
        plan = self.run.plan
        start = chunk.r0 * t.row_len
        if plan.cfg.rng == "native":
            return rng.native_draws(rng.philox_key(plan.cfg.seed, j, t.name), start, n)
        slot = plan.slots.index(j)
        position = slot * plan.stream_total + t.stream_offset + start
        stream = self.streams.get(j)
        if stream is None:
            stream = self.streams[j] = rng.MergeLMStream(plan.cfg.seed, position)
        return stream.draws(position, n)

    def run_segment(self) -> None:
        with ThreadPoolExecutor(1) as reader:
            pending = reader.submit(self.read, self.segment[0], 0)
            for i, chunk in enumerate(self.segment):
                if self.run.failed.is_set():
                    return
                base, fts = pending.result()
                if i + 1 < len(self.segment):
                    pending = reader.submit(self.read, self.segment[i + 1], (i + 1) % 2)
                self.process(chunk, base, fts)

    def _check_finite(self, t: TensorPlan, chunk: Chunk, arrays: list[np.ndarray], labels: list[str]) -> None:
        for a, label in zip(arrays, labels, strict=True):
            bad = np.flatnonzero(~np.isfinite(a))
            if bad.size:
                raise MergeError(f"{label}: tensor {t.name} has NaN/Inf at element {chunk.r0 * t.row_len + bad[0]}")

    def process(self, chunk: Chunk, base: np.ndarray, fts: list[np.ndarray]) -> None:
        run, plan = self.run, self.run.plan
        method = plan.cfg.method
        t = plan.tensors[chunk.tensor]
        n = base.size
        out = self.out[:n]
        labels = [str(plan.base.path)] + [str(s.path) for s in plan.finetuned]
        stats = None
        if not t.merged:
            if not math.isfinite(float(np.dot(base, base))):
                self._check_finite(t, chunk, [base], labels[:1])
            np.copyto(out, base)
        else:
            k = len(fts)
            stats = ChunkStats([0] * k, [0.0] * k, [0.0] * k)
            if method.uses_deltas:
                for j, f in enumerate(fts):
                    np.subtract(base, f, out=f)  # negated delta
                    sq = float(np.dot(f, f))
                    if not math.isfinite(sq):
                        self._check_finite(t, chunk, [base, *fts[:j], f], labels)
                        self._check_finite(t, chunk, [base - f], [labels[j + 1]])
                    stats.delta_sq[j] = sq
            else:
                for j, f in enumerate(fts):
                    np.subtract(base, f, out=self.scratch[:n])
                    sq = float(np.dot(self.scratch[:n], self.scratch[:n]))
                    if not math.isfinite(sq):
                        self._check_finite(t, chunk, [base, f], [labels[0], labels[j + 1]])
                    stats.delta_sq[j] = stats.applied_sq[j] = sq
                    stats.kept[j] = n
            ctx = ChunkContext(plan, t, chunk.r0 * t.row_len, base, fts, run.prepared,
                               lambda j, count: self.draws(j, t, chunk, count), self.scratch[:n],
                               self.divisor[:n], self.mask[:n])
            stats.kept = method.trim(ctx)
            if method.uses_deltas:
                for j, f in enumerate(fts):
                    stats.applied_sq[j] = float(np.dot(f, f))
            method.combine(ctx, out)
        # narrow and write
        dt = STORAGE[t.out_dtype]
        offset = chunk.r0 * t.row_len * dt.itemsize
        phase = run.writer.page_phase(t.name, offset)  # same place in a page as in the file: O_DIRECT-able
        narrow = self.narrow[phase : phase + n * dt.itemsize].view(dt)
        from_f32(out, t.out_dtype, narrow, self.bits[:n])
        run.writer.write(t.name, offset, narrow)
        run.record(chunk, t, n, stats)

class Run:
    """Shared state of one execution: plan, writer, pad rows, thresholds, progress and statistics."""

    def __init__(self, plan: Plan, writer: ShardWriter, threads: int, chunk_elements: int, progress: bool):
        self.plan = plan
        self.writer = writer
        self.threads = threads
        self.chunk_elements = chunk_elements
        self.capacity = max([chunk_elements] + [t.row_len for t in plan.tensors])
        self.failed = threading.Event()
        self.lock = threading.Lock()
        self.chunk_stats: dict[int, tuple[int, int, ChunkStats | None]] = {}
        self.pads = pad_rows(plan) if any(t.pad_row for t in plan.tensors) else {}
        self.prepared: dict = {}
        self.bar = tqdm(total=plan.in_bytes, unit="B", unit_scale=True, unit_divisor=1000, desc="merge",
                        disable=not progress, smoothing=0.1)
        self._in_bytes = {
            ti: (itemsize(plan.base.tensors[t.name][0])
                 + (sum(itemsize(s.tensors[t.name][0]) for s in plan.finetuned) if t.merged else 0))
            for ti, t in enumerate(plan.tensors)
        }

    def record(self, chunk: Chunk, t: TensorPlan, n: int, stats: ChunkStats | None) -> None:
        with self.lock:
            self.chunk_stats[chunk.index] = (chunk.tensor, n, stats)
        self.bar.update(n * self._in_bytes[chunk.tensor])

    def execute(self) -> dict[str, TensorStats]:
        chunks = make_chunks(self.plan, self.chunk_elements)
        segments = split_segments(self.plan, chunks, self.threads)
        with ThreadPoolExecutor(self.threads) as pool:
            self.prepared = self.plan.cfg.method.prepare(self.plan, pool, self.chunk_elements)
            workers = [_Worker(self, seg) for seg in segments]
            futures = [pool.submit(w.run_segment) for w in workers]
            error = None
            for fut in futures:
                try:
                    fut.result()
                except BaseException as exc:  # noqa: BLE001 - re-raised below after stopping the others
                    self.failed.set()
                    error = error or exc
        self.bar.close()
        if error is not None:
            raise error
        return self.collect()

    def collect(self) -> dict[str, TensorStats]:
        """Per-tensor statistics, summed in chunk order so they do not depend on the thread split."""
        out: dict[str, TensorStats] = {}
        k = len(self.plan.finetuned)
        for idx in sorted(self.chunk_stats):
            ti, n, st = self.chunk_stats[idx]
            t = self.plan.tensors[ti]
            ts = out.setdefault(t.name, TensorStats(0, [0] * k, [0.0] * k, [0.0] * k))
            ts.numel += n
            if st is not None:
                for j in range(k):
                    ts.kept[j] += st.kept[j]
                    ts.delta_sq[j] += st.delta_sq[j]
                    ts.applied_sq[j] += st.applied_sq[j]
        return out


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


__all__ = ["Run", "make_chunks", "default_threads", "HFSource"]
