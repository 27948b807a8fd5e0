"""Accelerator topologies as users name them (`v5p-8`, `v6e-256`, `cpu:8`) → abstract devices, HBM and peak FLOP/s.

Why: the compile-only planner (train_jax.plan) compiles the real train step for a pod that is not here. TPU
devices come from `jax.experimental.topologies.get_topology_desc` (needs libtpu: `make tpu-venv`); `cpu:N` uses
N simulated CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=N, set before jax is imported).
Naming follows Cloud TPU: v5p-N counts TensorCores (2 per chip, megacore: v5p-8 = 4 chips); v5e-N and v6e-N
count chips. HBM and bf16 peak per chip are Google's published figures (v5p 95 GiB / 459 TF, v5e 16 GiB /
197 TF, v6e 32 GiB / 918 TF; v6e exposes 31.25 GiB to XLA).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

GIB = 2**30


@dataclass(frozen=True)
class Chip:
    family: str  # the `topology_name` prefix jax expects
    hbm_bytes: float  # usable per chip
    peak_bf16_flops: float
    cores_per_chip: int  # how the user-facing name counts: v5p counts TensorCores
    chip_config: str


CHIPS: dict[str, Chip] = {
    "v5p": Chip("v5p", 95.74 * GIB, 459e12, 2, "megacore"),
    "v5e": Chip("v5e", 15.75 * GIB, 197e12, 1, "default"),
    "v6e": Chip("v6e", 31.25 * GIB, 918e12, 1, "default"),
}
EXAMPLES = ("v5p-8", "v5p-64", "v5e-16", "v6e-8", "v6e-256", "cpu:8")


class TopologyError(ValueError):
    pass


@dataclass(frozen=True)
class Topology:
    name: str
    platform: str  # tpu | cpu
    num_chips: int
    num_slices: int
    hbm_bytes: float | None  # per device; None for simulated CPU devices
    peak_flops: float | None  # per device, bf16

    def devices(self) -> list:
        """The (abstract, for TPU) devices of this topology, in mesh order."""
        import jax

        if self.platform == "cpu":
            have = jax.devices("cpu")
            if len(have) < self.num_chips:
                raise TopologyError(
                    f"--topology {self.name}: only {len(have)} CPU device(s); set "
                    f"XLA_FLAGS=--xla_force_host_platform_device_count={self.num_chips} before jax is imported")
            return list(have[: self.num_chips])
        import os

        os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")  # compile-only: several planners may run at once
        from jax.experimental import topologies

        chip = CHIPS[self.name.split("-")[0]]
        try:
            desc = topologies.get_topology_desc(
                platform="tpu", topology_name=f"{chip.family}:{_grid(chip, self.num_chips // self.num_slices)}",
                chip_config_name=chip.chip_config, chips_per_host_bounds=(2, 2, 1), num_slices=self.num_slices)
        except Exception as e:  # libtpu missing or refusing the shape
            raise TopologyError(f"--topology {self.name}: no TPU topology from libtpu ({type(e).__name__}: "
                                f"{str(e).splitlines()[0][:200]}); install it with `make tpu-venv`") from None
        return list(desc.devices)


def _grid(chip: Chip, chips: int) -> str:
    """The physical chip grid of one slice: v5p is a 3-D torus (2x2x1, 2x2x2, 2x4x4, ...), v5e/v6e 2-D."""
    if chip.family == "v5p":
        dims = [1, 1, 1]
        i = 0
        while math.prod(dims) < chips:
            dims[i % 3] *= 2
            i += 1
        a, b, c = sorted(dims)
        return "x".join(map(str, (b, c, a) if a == 1 else (a, b, c)))  # a flat slice is written 2x2x1
    side = 2 ** int(math.log2(chips) // 2)
    return f"{side}x{chips // side}"


def parse_topology(name: str, num_slices: int = 1) -> Topology:
    """`v5p-8`, `v5e-16`, `v6e-256`, `cpu:8` → a Topology; anything else lists the valid forms."""
    m = re.fullmatch(r"cpu:(\d+)", name)
    if m and int(m.group(1)) >= 1:
        return Topology(name, "cpu", int(m.group(1)), 1, None, None)
    m = re.fullmatch(r"(v5p|v5e|v6e)-(\d+)", name)
    if m and num_slices >= 1:
        chip = CHIPS[m.group(1)]
        cores = int(m.group(2))
        chips = cores // chip.cores_per_chip
        if cores % chip.cores_per_chip == 0 and chips >= 1 and chips & (chips - 1) == 0:
            return Topology(name, "tpu", chips * num_slices, num_slices, chip.hbm_bytes, chip.peak_bf16_flops)
    raise TopologyError(f"--topology {name!r} (slices {num_slices}): expected cpu:N or v5p-N, v5e-N, v6e-N with a "
                        f"power-of-two chip count, e.g. {', '.join(EXAMPLES)}")


__all__ = ["Topology", "TopologyError", "parse_topology", "CHIPS", "GIB"]
