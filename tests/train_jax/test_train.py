"""The train step's pieces: packed rows vs documents alone, scan/remat equivalence, HF-exact schedule and AdamW,
and a tiny model that overfits a handful of examples through the whole training run."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnlu.prompts import multiple_choice
from tests.train_jax.test_sharding import SMALL
from train_jax import optim
from train_jax.model import init_model
from train_jax.train import per_token_nll, split_model, token_nll


def test_packed_row_gives_each_document_its_own_loss():
    cfg = SMALL.replace(sliding_window=5)  # the window matters inside documents, never across them
    graphdef, _, params = split_model(init_model(cfg, seed=1))
    rng = np.random.default_rng(0)
    lengths, seq = [7, 11, 9], 32
    docs = [rng.integers(0, 128, n).astype(np.int32) for n in lengths]
    rows = {k: np.zeros((4, seq), np.int32) for k in ("input_ids", "targets", "segment_ids", "positions")}
    rows["weights"] = np.zeros((4, seq), np.float32)
    start = 0
    for k, d in enumerate(docs):
        n = len(d)
        for r, off in ((0, start), (k + 1, 0)):  # row 0: packed; row k+1: document k alone
            rows["input_ids"][r, off : off + n] = d
            rows["targets"][r, off : off + n - 1] = d[1:]
            rows["weights"][r, off : off + n - 1] = 1
            rows["segment_ids"][r, off : off + n] = k + 1
            rows["positions"][r, off : off + n] = np.arange(n)
        start += n
    # the packed row's padding is another segment; the lone rows get random junk after their document
    rows["input_ids"][1:, 12:] = rng.integers(0, 128, (3, seq - 12))
    nll = np.asarray(jax.jit(lambda p, b: per_token_nll(graphdef, p, b))(params, rows))
    start = 0
    for k, n in enumerate(lengths):
        packed, alone = nll[0, start : start + n], nll[k + 1, :n]
        np.testing.assert_allclose(packed, alone, rtol=1e-5, atol=1e-6)
        start += n
    assert nll[0].sum() > 0


def test_scan_and_remat_give_the_same_loss_and_gradients():
    rng = np.random.default_rng(3)
    batch = {
        "input_ids": rng.integers(0, 128, (2, 16)).astype(np.int32),
        "targets": rng.integers(0, 128, (2, 16)).astype(np.int32),
        "weights": np.ones((2, 16), np.float32),
        "segment_ids": np.ones((2, 16), np.int32),
        "positions": np.tile(np.arange(16, dtype=np.int32), (2, 1)),
    }
    cfg = SMALL.replace(num_hidden_layers=3)
    results = {}
    for name, variant in {"loop": {}, "scan_full": dict(scan_layers=True, remat="full")}.items():
        graphdef, _, params = split_model(init_model(cfg.replace(**variant), seed=2))
        results[name] = jax.jit(jax.value_and_grad(lambda p, g=graphdef: token_nll(g, p, batch)[0]))(params)
    ref_loss, ref_grads = results["loop"]
    for name in ("scan_full",):
        loss, grads = results[name]
        assert abs(float(loss) - float(ref_loss)) <= 1e-5 * abs(float(ref_loss)), name
        for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6 * np.abs(b).max())


@pytest.mark.parametrize("kind", ["cosine", "linear", "constant_with_warmup", "constant"])
def test_schedule_matches_transformers(kind):
    import torch
    from transformers import get_scheduler

    total, warmup, peak = 37, 4, 2e-5
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    sched = get_scheduler(kind, opt, num_warmup_steps=warmup, num_training_steps=total)
    ours = optim.lr_schedule(kind, peak, total, warmup)
    for step in range(total):
        assert abs(float(ours(step)) - opt.param_groups[0]["lr"]) <= 1e-6 * peak, (kind, step)
        opt.step()
        sched.step()
    assert optim.warmup_steps(100, 0.1) == 10 and optim.warmup_steps(95, 0.1) == 10 and optim.warmup_steps(9, 0.1, 3) == 3


def test_adamw_with_clipping_matches_torch():
    """Same gradients → same parameters as torch.optim.AdamW after clip_grad_norm_, norms excluded from decay."""
    import torch

    rng = np.random.default_rng(0)
    params = {"layers": {0: {"mlp": {"up_proj": {"kernel": rng.normal(size=(4, 3)).astype(np.float32)}},
                             "input_layernorm": {"scale": np.ones(4, np.float32)}}},
              "norm": {"scale": rng.normal(size=3).astype(np.float32)}}
    grads = [jax.tree.map(lambda p: rng.normal(size=p.shape).astype(np.float32) * 3, params) for _ in range(4)]
    schedule = optim.lr_schedule("cosine", 1e-2, 4, 1)
    tx = optim.make_optimizer(schedule, weight_decay=0.1, max_grad_norm=1.0)
    state = tx.init(params)
    ours = jax.tree.map(jnp.asarray, params)
    for g in grads:
        updates, state = tx.update(g, state, ours)
        ours = jax.tree.map(lambda p, u: p + u, ours, updates)

    leaves = {"w": params["layers"][0]["mlp"]["up_proj"]["kernel"], "ln": params["layers"][0]["input_layernorm"]["scale"],
              "norm": params["norm"]["scale"]}
    tp = {k: torch.nn.Parameter(torch.tensor(v)) for k, v in leaves.items()}
    opt = torch.optim.AdamW([{"params": [tp["w"]], "weight_decay": 0.1},
                             {"params": [tp["ln"], tp["norm"]], "weight_decay": 0.0}], lr=1e-2, eps=1e-8)
    from transformers import get_scheduler

    sched = get_scheduler("cosine", opt, num_warmup_steps=1, num_training_steps=4)
    for g in grads:
        tp["w"].grad = torch.tensor(g["layers"][0]["mlp"]["up_proj"]["kernel"])
        tp["ln"].grad = torch.tensor(g["layers"][0]["input_layernorm"]["scale"])
        tp["norm"].grad = torch.tensor(g["norm"]["scale"])
        torch.nn.utils.clip_grad_norm_(list(tp.values()), 1.0)
        opt.step()
        sched.step()
    got = {"w": ours["layers"][0]["mlp"]["up_proj"]["kernel"], "ln": ours["layers"][0]["input_layernorm"]["scale"],
           "norm": ours["norm"]["scale"]}
    for k in tp:
        np.testing.assert_allclose(np.asarray(got[k]), tp[k].detach().numpy(), rtol=2e-6, atol=2e-7)


def test_tiny_model_overfits_a_handful_of_examples(tmp_path):
    """The whole run (real tokenizer, 8-device FSDP mesh, checkpoints, metrics) drives the loss on eight examples
    (one per device, one step per epoch) below 10% of where it started."""
    from train_jax.train_config import from_dict
    from train_jax.trainer import run

    findings = ["Rash.", "No rash.", "Fever.", "No fever.", "Cough.", "No cough.", "Pain.", "No pain."]
    records = [multiple_choice(f"mc{i}", "Is the finding negated?", ["affirmed", "negated"], i % 2,
                               type_="assertion", text=text) for i, text in enumerate(findings)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    cfg = from_dict({
        "model": {"vocab_size": 32000, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "init_seed": 0},
        "dataset_mixer": {str(data): 1.0}, "output_dir": str(tmp_path / "run"), "max_seq_length": 96,
        "packing": False, "save_strategy": "steps", "save_on_epoch_end": False,
        "per_device_train_batch_size": 1, "learning_rate": 1e-2, "lr_scheduler_type": "constant",
        "max_steps": 30, "logging_steps": 1, "save_steps": 15, "disable_tqdm": True, "report_to": "tensorboard",
        "mesh": {"fsdp": -1},
    })
    result = run(cfg, log=lambda *a: None)
    assert result.exit_code == 0 and result.step == 30
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in lines if "loss" in r]
    assert len(losses) == 30
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])
    step_rec = [r for r in lines if "loss" in r][-1]
    assert {"learning_rate", "grad_norm", "tokens_per_s", "mfu", "target_tokens"} <= set(step_rec)
    assert 0 < step_rec["mfu"] < 1 and step_rec["learning_rate"] == pytest.approx(1e-2)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["15", "30"]
    assert any((tmp_path / "run" / "runs").iterdir())  # tensorboard event file
    summary = [r for r in lines if r.get("event") == "summary"]
    assert summary and summary[0]["step"] == 30


def test_steps_strategy_also_saves_at_each_epoch_end(tmp_path):
    """save_strategy steps saves every save_steps steps and when an epoch ends (16 examples over 8 devices: two
    steps per epoch), plus the last step; save_on_epoch_end false keeps HF's steps-only behaviour."""
    from train_jax.train_config import from_dict
    from train_jax.trainer import run

    records = [multiple_choice(f"mc{i}", "Is the finding negated?", ["affirmed", "negated"], i % 2,
                               type_="assertion", text=f"Finding {i}.") for i in range(16)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    saved = {}
    for on_epoch_end in (True, False):
        out = tmp_path / f"run_{on_epoch_end}"
        cfg = from_dict({
            "model": {"vocab_size": 32000, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                      "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "init_seed": 0},
            "dataset_mixer": {str(data): 1.0}, "output_dir": str(out), "max_seq_length": 128, "packing": False,
            "per_device_train_batch_size": 1, "max_steps": 5, "save_strategy": "steps", "save_steps": 3,
            "save_on_epoch_end": on_epoch_end, "disable_tqdm": True, "mesh": {"fsdp": -1},
        })
        assert run(cfg, log=lambda *a: None).exit_code == 0
        saved[on_epoch_end] = sorted(int(p.name) for p in (out / "checkpoints").iterdir())
    assert saved == {True: [2, 3, 4, 5], False: [3, 5]}
