"""Can the demo-shaped Mistral learn an in-context copy (induction) head, and how fast?

Each row is `<s>`, L random tokens, `gap` random filler tokens, then the same L tokens again; the loss is on the
repeat, so it falls from ln(alphabet) to ~0 only once a head copies the token that followed the current one's
earlier occurrence. This is the mechanism a zero-shot NER answer needs to write the prompt's type names (issue 12):
with `--gap` near a span prompt's length it shows whether distance, rather than the model, is what stops it.

    .venv/bin/python bench/induction_copy.py --vocab 2000 --steps 300 [--gap 448 --batch 8]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from train_jax.model import init_model
from train_jax.tiny import REPO_CONFIGS, tiny_config

DEMO_TRAIN = REPO_CONFIGS / "demo_train.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", type=int, default=2000, help="model vocabulary (32000 = the real one)")
    ap.add_argument("--alphabet", type=int, default=None, help="tokens drawn from ids 3..3+alphabet (default all)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--length", type=int, default=32, help="tokens copied per row")
    ap.add_argument("--gap", type=int, default=0, help="random filler tokens between the two copies")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    alphabet = args.alphabet or args.vocab - 3
    demo, _ = tiny_config(DEMO_TRAIN)  # the demo's own shape, so this bench cannot drift from it
    cfg = dataclasses.replace(demo, vocab_size=args.vocab, num_hidden_layers=args.layers)
    graphdef, state = nnx.split(init_model(cfg, args.seed))
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, max(1, args.steps // 10), args.steps)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.0))
    opt_state = tx.init(state)
    start = 1 + args.length + args.gap  # position of the first repeated token

    @jax.jit
    def step(state, opt_state, rows):
        def loss_fn(st):
            logits = nnx.merge(graphdef, st)(rows[:, :-1])[:, start:]
            return optax.softmax_cross_entropy_with_integer_labels(logits, rows[:, start + 1:]).mean()

        loss, grads = jax.value_and_grad(loss_fn)(state)
        updates, opt_state = tx.update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, loss

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    print(f"plateau ln(alphabet) = {np.log(alphabet):.2f}; rows of {start + args.length} tokens", flush=True)
    for s in range(args.steps):
        seq = rng.integers(3, 3 + alphabet, (args.batch, args.length))
        filler = rng.integers(3, 3 + alphabet, (args.batch, args.gap))
        rows = np.concatenate([np.ones((args.batch, 1), np.int64), seq, filler, seq], axis=1)
        state, opt_state, loss = step(state, opt_state, jnp.asarray(rows, jnp.int32))
        if s % 25 == 0 or s == args.steps - 1:
            print(f"step {s:5d}  copy loss {float(loss):.3f}  {time.perf_counter() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
