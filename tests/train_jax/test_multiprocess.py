"""Two processes on localhost (jax.distributed over gloo) train to the same parameters as one process with the
same global batch; each process builds only its own rows."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from tests.train_jax.test_resume import final_params, finish, reference_run, start, write_recipe  # noqa: F401


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_processes_match_one_process(reference_run, tmp_path):  # noqa: F811
    _, data, single = reference_run  # one process, 2 devices, 2 rows each
    two_dir = tmp_path / "two"
    recipe = write_recipe(tmp_path, two_dir, data, compilation_cache_dir=None)  # two processes, 1 device each
    port = _free_port()
    procs = [
        start(recipe, devices=1, extra=("--coordinator_address", f"127.0.0.1:{port}", "--num_processes", "2",
                                        "--process_id", str(i)))
        for i in range(2)
    ]
    results = [finish(p, timeout=400) for p in procs]
    for code, out in results:
        assert code == 0, out
    assert "2 process(es)" in results[0][1]
    assert "model:" not in results[1][1]  # only process 0 logs
    assert not any(p.name == "metrics.jsonl" for p in two_dir.rglob("*") if p.parent != two_dir)
    multi = final_params(two_dir)
    assert single.keys() == multi.keys()
    for name in single:  # same program, same reduction order: bit for bit
        np.testing.assert_allclose(multi[name], single[name], rtol=1e-6, atol=1e-7, err_msg=name)
        assert multi[name].tobytes() == single[name].tobytes(), name
