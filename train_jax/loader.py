"""The training batch stream: per-epoch shuffling from the seed, packed rows, each process building only its slice.

Why this shape: exact resume on many hosts needs an iterator whose whole state is two integers. The order of epoch e
is a permutation drawn from (seed, e); its rows come from `packing.plan_rows`; the position is (epoch, next row).
A global batch is `[gradient_accumulation_steps, rows_per_micro_batch, max_seq_length]`, sharded over the batch
mesh axes; `jax.make_array_from_callback` asks each process only for the rows its devices hold, and only those are
built. The position is in rows, not steps, so a run resumed with another global batch size neither skips nor
repeats data.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding

from train_jax.data import TokenizedData
from train_jax.data_sources import DataError
from train_jax.packing import BATCH_KEYS, RowPlan, build_rows, plan_rows


class DataStateError(DataError):
    """A saved iterator state that does not fit the data or configuration of this run."""


@dataclass
class Position:
    epoch: int = 0
    row: int = 0  # next row of that epoch's plan


class Loader:
    def __init__(
        self,
        data: TokenizedData,
        *,
        max_seq_length: int,
        rows_per_micro_batch: int,
        accumulation: int = 1,
        seed: int = 42,
        packing: bool = True,
        drop_last: bool = False,
        num_epochs: float = 1.0,
        max_steps: int = -1,
    ):
        self.data = data
        self.max_len = max_seq_length
        self.micro_rows = rows_per_micro_batch
        self.accumulation = accumulation
        self.rows_per_step = rows_per_micro_batch * accumulation
        self.seed = seed
        self.packing = packing
        self.drop_last = drop_last
        self.num_epochs = num_epochs
        self.max_steps = max_steps
        self.position = Position()
        if self.max_steps <= 0 and self._epoch_limit(0) == 0:
            raise ValueError(
                f"the data packs into {self.plan(0).num_rows} rows, fewer than one batch of {self.rows_per_step} rows "
                "with dataloader_drop_last"
            )

    # --------------------------------------------------------------------------------------------- plans

    @functools.lru_cache(maxsize=4)  # noqa: B019 - a few epochs' plans, owned by this loader
    def plan(self, epoch: int) -> RowPlan:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.data.num_docs)
        return plan_rows(self.data.lengths, order, self.max_len, packing=self.packing)

    def _full_steps(self, epoch: int) -> int:
        rows = self.plan(epoch).num_rows
        return rows // self.rows_per_step if self.drop_last else math.ceil(rows / self.rows_per_step)

    def _epoch_limit(self, epoch: int) -> int:
        """How many rows of epoch `epoch` are trained on (a fractional last epoch stops early)."""
        if self.max_steps > 0:
            steps = self._full_steps(epoch)
        else:
            full = math.floor(self.num_epochs)
            if epoch < full:
                steps = self._full_steps(epoch)
            elif epoch == full and self.num_epochs > full:
                steps = math.ceil((self.num_epochs - full) * self._full_steps(epoch))
            else:
                return 0
        return min(self.plan(epoch).num_rows, steps * self.rows_per_step)

    def _steps_from(self, epoch: int, row: int) -> int:
        limit = self._epoch_limit(epoch)
        if limit == 0 or row >= limit:
            return 0
        left = limit - row
        return left // self.rows_per_step if self.drop_last else math.ceil(left / self.rows_per_step)

    def remaining_steps(self) -> int:
        """Steps left from the current position to the end of training (max_steps aside)."""
        e, total = self.position.epoch, self._steps_from(self.position.epoch, self.position.row)
        if self.max_steps > 0:
            raise ValueError("remaining_steps is defined by max_steps when it is set")
        e += 1
        while self._epoch_limit(e) > 0:
            total += self._steps_from(e, 0)
            e += 1
        return total

    def total_steps(self, done: int = 0) -> int:
        """The schedule's length: max_steps, or `done` plus every step left in the epochs."""
        return self.max_steps if self.max_steps > 0 else done + self.remaining_steps()

    def max_row_targets(self, group_rows: int = 1) -> int:
        """The most target tokens any row (or group of `group_rows` consecutive rows of a micro-batch) of this run
        holds, over every epoch the schedule visits (from the start, so a resumed run resolves the same value): the
        smallest safe `loss_target_capacity: auto`."""
        if group_rows < 1 or self.micro_rows % group_rows:
            raise ValueError(f"group_rows {group_rows}: expected a divisor of the {self.micro_rows} rows of a "
                             "micro-batch")
        total = self.total_steps() if self.max_steps > 0 else None
        c = np.concatenate([[0], np.cumsum(self.data.targets, dtype=np.int64)])
        lo, hi = self.data.offsets[:-1], self.data.offsets[1:]
        per_doc = c[hi] - c[np.minimum(lo + 1, hi)]  # token 0 of a document is never predicted
        best, steps, e = 0, 0, 0
        while total is None or steps < total:
            plan, limit = self.plan(e), self._epoch_limit(e)
            if limit == 0:  # past the last epoch
                break
            if total is not None:
                limit = min(limit, (total - steps) * self.rows_per_step)
            per_row = np.diff(np.concatenate([[0], np.cumsum(per_doc[plan.docs])])[plan.row_offsets])[:limit]
            groups = np.add.reduceat(per_row, np.arange(0, len(per_row), group_rows)) if len(per_row) else per_row
            best = max(best, int(groups.max(initial=0)))
            steps += self._steps_from(e, 0)
            e += 1
        return best

    # ------------------------------------------------------------------------------------------ iteration

    def _normalise(self) -> None:
        """Move past the end of an epoch (or a drop_last remainder) to the start of the next."""
        while self._steps_from(self.position.epoch, self.position.row) == 0:
            if self.max_steps <= 0 and self._epoch_limit(self.position.epoch + 1) == 0:
                return
            self.position = Position(self.position.epoch + 1, 0)

    def step_rows(self) -> tuple[int, list[np.ndarray | None]]:
        """(epoch, the documents of each row of the next step); rows past the epoch's end are empty (None)."""
        self._normalise()
        e, r = self.position.epoch, self.position.row
        plan, limit = self.plan(e), self._epoch_limit(e)
        rows = [plan.row(i) if i < limit else None for i in range(r, r + self.rows_per_step)]
        return e, rows

    def advance(self) -> bool:
        """Move past the step just taken; True when that step ended an epoch."""
        self._normalise()
        e = self.position.epoch
        self.position = Position(e, self.position.row + self.rows_per_step)
        return self._steps_from(e, self.position.row) == 0

    def epoch_progress(self) -> float:
        """Epochs done as a fraction (HF's `epoch` in logs)."""
        e, r = self.position.epoch, self.position.row
        return e + min(1.0, r / max(1, self._epoch_limit(e) or self.plan(e).num_rows))

    def host_batch(self) -> dict[str, np.ndarray]:
        """The whole next global batch on this host, [accumulation, micro_rows, max_len] (tests, one process)."""
        _, rows = self.step_rows()
        flat = build_rows(self.data, rows, self.max_len)
        return {k: v.reshape(self.accumulation, self.micro_rows, self.max_len) for k, v in flat.items()}

    def device_batch(self, sharding: NamedSharding) -> dict[str, jax.Array]:
        """The next global batch as sharded arrays; this process builds only the rows its devices hold."""
        _, rows = self.step_rows()
        shape = (self.accumulation, self.micro_rows, self.max_len)
        blocks: dict[tuple[int, int, int, int], dict[str, np.ndarray]] = {}

        def block(index: tuple[slice, ...]) -> dict[str, np.ndarray]:
            a = range(*index[0].indices(shape[0]))
            b = range(*index[1].indices(shape[1]))
            key = (a.start, a.stop, b.start, b.stop)
            if key not in blocks:
                wanted = [rows[i * self.micro_rows + j] for i in a for j in b]
                built = build_rows(self.data, wanted, self.max_len)
                blocks[key] = {k: v.reshape(len(a), len(b), self.max_len) for k, v in built.items()}
            return blocks[key]

        return {
            name: jax.make_array_from_callback(shape, sharding, lambda idx, n=name: block(idx)[n][:, :, idx[2]])
            for name in BATCH_KEYS
        }

    # ----------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.position.epoch,
            "row": self.position.row,
            "seed": self.seed,
            "max_seq_length": self.max_len,
            "packing": self.packing,
            "rows_per_step": self.rows_per_step,
            "fingerprint": self.data.fingerprint,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, mine in (("fingerprint", self.data.fingerprint), ("seed", self.seed),
                          ("max_seq_length", self.max_len), ("packing", self.packing)):
            if state.get(key) != mine:
                raise DataStateError(
                    f"the checkpoint's data iterator was saved with {key}={state.get(key)!r}, this run has {mine!r}; "
                    "resuming would not continue the same data stream (use a new output_dir or resume: never)"
                )
        self.position = Position(int(state["epoch"]), int(state["row"]))
