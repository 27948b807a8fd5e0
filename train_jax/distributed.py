"""Multi-process start-up: `jax.distributed.initialize` when the run spans several processes.

Three ways in, first match wins:
1. explicit settings (config keys or `--coordinator_address/--num_processes/--process_id`);
2. the environment: `JAX_COORDINATOR_ADDRESS` (or `MNLU_COORDINATOR_ADDRESS`), `JAX_NUM_PROCESSES`,
   `JAX_PROCESS_ID` — how a GPU cluster launcher hands them out;
3. a cluster JAX detects itself (Cloud TPU pods with several workers, SLURM with several tasks, Open MPI):
   `jax.distributed.initialize()` without arguments.
A single process (a laptop, one GPU box, one TPU VM) initialises nothing. On CPUs the collectives go over gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessSetup:
    coordinator_address: str | None
    num_processes: int
    process_id: int
    how: str  # "single", "explicit", "environment", "auto-detected"


def _env(*names: str) -> str | None:
    for n in names:
        if os.environ.get(n):
            return os.environ[n]
    return None


def _auto_cluster() -> str | None:
    hosts = os.environ.get("TPU_WORKER_HOSTNAMES", "")
    if len([h for h in hosts.split(",") if h]) > 1 or os.environ.get("MEGASCALE_COORDINATOR_ADDRESS"):
        return "Cloud TPU pod"
    if int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1 and os.environ.get("SLURM_STEP_NODELIST"):
        return "SLURM"
    if int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1:
        return "Open MPI"
    return None


def resolve(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> ProcessSetup:
    """Which multi-process set-up applies (no side effects)."""
    if coordinator_address or num_processes or process_id is not None:
        if not (coordinator_address and num_processes and process_id is not None):
            raise ValueError(
                "multi-process training needs all of coordinator_address, num_processes and process_id "
                f"(got {coordinator_address!r}, {num_processes!r}, {process_id!r})"
            )
        return ProcessSetup(coordinator_address, int(num_processes), int(process_id), "explicit")
    addr = _env("JAX_COORDINATOR_ADDRESS", "MNLU_COORDINATOR_ADDRESS")
    if addr:
        n, pid = _env("JAX_NUM_PROCESSES", "MNLU_NUM_PROCESSES"), _env("JAX_PROCESS_ID", "MNLU_PROCESS_ID")
        if n is None or pid is None:
            raise ValueError(f"JAX_COORDINATOR_ADDRESS={addr} is set; JAX_NUM_PROCESSES and JAX_PROCESS_ID are needed too")
        return ProcessSetup(addr, int(n), int(pid), "environment")
    cluster = _auto_cluster()
    if cluster:
        return ProcessSetup(None, -1, -1, f"auto-detected ({cluster})")
    return ProcessSetup(None, 1, 0, "single")


def initialize(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> ProcessSetup:
    """Initialise jax.distributed if the run spans processes; call before anything touches a device."""
    import jax

    setup = resolve(coordinator_address, num_processes, process_id)
    if setup.how == "single" or (setup.num_processes == 1 and setup.how != "auto-detected"):
        return setup
    if os.environ.get("JAX_PLATFORMS", "").startswith("cpu"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if setup.how.startswith("auto"):
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(
            coordinator_address=setup.coordinator_address,
            num_processes=setup.num_processes,
            process_id=setup.process_id,
        )
    return ProcessSetup(setup.coordinator_address, jax.process_count(), jax.process_index(), setup.how)
