"""Tokenisation with the chat template, assistant-only loss masks, packing, the mixer and the resumable loader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnlu.prompts import (
    ASSISTANT_HEADER,
    SpanType,
    multiple_choice,
    render_chat,
    span_extraction,
    summarization,
)
from mnlu.schema import make_record
from mnlu.tokenizer import BOS_ID, EOS_ID, get_tokenizer
from train_jax.data import target_mask, tokenize_records
from train_jax.data_sources import DataError, iter_mixture, resolve_mixer
from train_jax.loader import DataStateError, Loader
from train_jax.packing import build_rows, plan_rows


def _records(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = i % 3
        words = " ".join(rng.choice(["fever", "cough", "aspirin", "no", "pain", "daily", "mg"], size=rng.integers(3, 40)))
        if kind == 0:
            out.append(multiple_choice(f"mc{i}", "Is it negated?", ["affirmed", "negated"], int(rng.integers(2)),
                                       type_="assertion", text=words))
        elif kind == 1:
            out.append(span_extraction(f"ner{i}", words, [SpanType("Drug"), SpanType("Symptom")],
                                       {"Drug": ["aspirin"], "Symptom": []}, type_="ner"))
        else:
            out.append(summarization(f"sum{i}", words, words[: len(words) // 2]))
    return out


def _tokenize(records, max_len=4096, assistant_only=True):
    return tokenize_records([(r, f"rec{i}") for i, r in enumerate(records)], get_tokenizer(), max_len,
                            assistant_only=assistant_only)


def test_mask_covers_answer_and_eos_but_not_header():
    rec = multiple_choice("x", "Is it negated?", ["affirmed", "negated"], 1, type_="assertion", text="No fever.")
    data = _tokenize([rec])
    ids, tgt = data.doc(0)
    tok = get_tokenizer()
    assert ids[0] == BOS_ID and tgt[0] == 0
    masked = ids[tgt == 1]
    assert masked[-1] == EOS_ID  # the closing </s> is a target
    assert tok.decode(masked.tolist(), skip_special_tokens=False) == "(B) negated</s>"
    first = int(np.argmax(tgt))
    before = tok.decode(ids[:first].tolist(), skip_special_tokens=False)
    assert before.endswith(ASSISTANT_HEADER.strip("\n")) or before.endswith(ASSISTANT_HEADER)  # header is context
    assert tgt[first:].sum() == len(masked) and (tgt[first : first + len(masked)] == 1).all()  # one contiguous span
    assert not tgt[len(ids) - 2 :].all()  # the trailing newline after </s> is not a target


def test_every_assistant_turn_is_masked():
    rec = make_record("m", "sys", "q1", "a1", "summarization", "t")
    rec["messages"] += [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "second answer"}]
    ids, tgt = _tokenize([rec]).doc(0)
    text = get_tokenizer().decode(ids[tgt == 1].tolist(), skip_special_tokens=False)
    assert text.replace(" ", "") == "a1</s>secondanswer</s>"
    assert (ids[tgt == 1] == EOS_ID).sum() == 2


def test_whole_sequence_loss_option():
    rec = _records(1)[0]
    ids, tgt = _tokenize([rec], assistant_only=False).doc(0)
    assert tgt[0] == 0 and tgt[1:].all()


def test_degenerate_masks_raise():
    rec = multiple_choice("x", "Q?", ["a", "b"], 0, type_="t", text="t")
    msgs = rec["messages"]
    enc = get_tokenizer().encode(render_chat(msgs))
    with pytest.raises(DataError, match="all zeros"):
        target_mask(msgs, [(0, 0)] * len(enc.ids), enc.ids, "f.jsonl:3")
    n = len(render_chat(msgs))
    span_start = n - len("(A) a</s>\n")
    with pytest.raises(DataError, match="all ones"):
        target_mask(msgs, [(0, 0)] + [(span_start, span_start + 1)] * (len(enc.ids) - 1), enc.ids, "f.jsonl:3")
    ids = list(enc.ids)
    ids[ids.index(EOS_ID, len(ids) - 3)] = 5  # the answer's </s> replaced: the mask must notice
    with pytest.raises(DataError, match="does not end with a masked </s>"):
        target_mask(msgs, enc.offsets, ids, "f.jsonl:3")
    with pytest.raises(DataError, match="no assistant turn"):
        target_mask(msgs[:2], enc.offsets, enc.ids, "f.jsonl:3")


def test_truncation_is_counted_and_targetless_documents_dropped():
    long = summarization("long", "word " * 600, "short summary")
    short = _records(2)
    data = _tokenize([long, *short], max_len=300)
    assert data.truncated == 1 and data.dropped == 1  # the long one lost its answer entirely
    assert data.num_docs == 2 and data.lengths.max() <= 300
    data = _tokenize([long, *short], max_len=300, assistant_only=False)
    assert data.truncated == 1 and data.dropped == 0 and data.lengths.max() == 300


def test_packed_rows_restart_positions_and_segments():
    data = _tokenize(_records(30))
    order = np.arange(data.num_docs)
    plan = plan_rows(data.lengths, order, 256)
    assert sorted(plan.docs.tolist()) == list(range(data.num_docs))  # every document exactly once
    rows = build_rows(data, [plan.row(r) for r in range(plan.num_rows)], 256)
    for r in range(plan.num_rows):
        docs = plan.row(r)
        assert data.lengths[docs].sum() <= 256
        seg, pos = rows["segment_ids"][r], rows["positions"][r]
        start = 0
        for k, d in enumerate(docs, start=1):
            ids, tgt = data.doc(d)
            n = len(ids)
            assert (seg[start : start + n] == k).all()
            np.testing.assert_array_equal(pos[start : start + n], np.arange(n))
            np.testing.assert_array_equal(rows["input_ids"][r, start : start + n], ids)
            np.testing.assert_array_equal(rows["targets"][r, start : start + n - 1], ids[1:])
            np.testing.assert_array_equal(rows["weights"][r, start : start + n - 1], tgt[1:])
            assert rows["weights"][r, start + n - 1] == 0  # nothing predicted across documents
            start += n
        assert (seg[start:] == 0).all() and (rows["weights"][r, start:] == 0).all()
    fill = data.lengths.sum() / (plan.num_rows * 256)
    assert fill > 0.85, fill
    unpacked = plan_rows(data.lengths, order, 256, packing=False)
    assert unpacked.num_rows == data.num_docs


def _loader(data, **kw):
    args = dict(max_seq_length=256, rows_per_micro_batch=2, accumulation=2, seed=3, num_epochs=2.0)
    args.update(kw)
    return Loader(data, **args)


def test_shuffle_is_deterministic_per_epoch():
    data = _tokenize(_records(40))
    a, b, c = _loader(data), _loader(data), _loader(data, seed=4)
    assert a.plan(0).docs.tolist() == b.plan(0).docs.tolist()
    assert a.plan(0).docs.tolist() != a.plan(1).docs.tolist()
    assert a.plan(0).docs.tolist() != c.plan(0).docs.tolist()


def test_loader_state_resumes_the_same_stream():
    data = _tokenize(_records(40))
    full = _loader(data)
    total = full.total_steps()
    stream = []
    ends = []
    for _ in range(total):
        stream.append(full.host_batch())
        ends.append(full.advance())
    assert sum(ends) == 2 and ends[-1]  # two epoch ends, the last one at the last step
    part = _loader(data)
    for _ in range(3):
        part.host_batch()
        part.advance()
    state = json.loads(json.dumps(part.state_dict()))
    resumed = _loader(data)
    resumed.load_state_dict(state)
    assert resumed.total_steps(3) == total
    for i in range(3, total):
        got = resumed.host_batch()
        resumed.advance()
        for k in got:
            np.testing.assert_array_equal(got[k], stream[i][k])
    with pytest.raises(DataStateError, match="seed"):
        _loader(data, seed=9).load_state_dict(state)


def test_fractional_epochs_and_drop_last():
    data = _tokenize(_records(40))
    one = _loader(data, num_epochs=1.0).total_steps()
    assert _loader(data, num_epochs=1.5).total_steps() == one + int(np.ceil(0.5 * _loader(data).__class__(
        data, max_seq_length=256, rows_per_micro_batch=2, accumulation=2, seed=3)._full_steps(1)))
    rows = _loader(data).plan(0).num_rows
    assert _loader(data, num_epochs=1.0, drop_last=True).total_steps() == rows // 4
    assert _loader(data, max_steps=50).total_steps() == 50


@pytest.mark.parametrize("kw", [dict(num_epochs=1.5), dict(max_steps=23)])
def test_max_row_targets_is_the_most_targets_any_trained_row_holds(kw):
    data = _tokenize(_records(40))
    loader = _loader(data, **kw)
    seen = 0
    for _ in range(loader.total_steps()):
        seen = max(seen, int((loader.host_batch()["weights"] != 0).sum(axis=-1).max()))
        loader.advance()
    assert seen > 0 and _loader(data, **kw).max_row_targets() == seen


def test_max_row_targets_of_groups_is_the_most_any_micro_batch_group_holds():
    data = _tokenize(_records(40))
    loader = _loader(data, rows_per_micro_batch=4, max_steps=9)
    seen = 0
    for _ in range(loader.total_steps()):
        per_row = (loader.host_batch()["weights"] != 0).sum(axis=-1)  # [micro-batches, rows]
        seen = max(seen, int(per_row.reshape(per_row.shape[0], -1, 2).sum(axis=-1).max()))
        loader.advance()
    fresh = _loader(data, rows_per_micro_batch=4, max_steps=9)
    assert fresh.max_row_targets(2) == seen > fresh.max_row_targets()
    with pytest.raises(ValueError, match="divisor"):
        fresh.max_row_targets(3)


def test_device_batch_equals_host_batch_on_a_mesh():
    import jax

    from train_jax.sharding import batch_sharding, make_mesh

    data = _tokenize(_records(20))
    mesh = make_mesh({"data": 2, "fsdp": 2, "tensor": 2})
    loader = _loader(data, rows_per_micro_batch=4)
    host = loader.host_batch()
    sharding = batch_sharding(mesh, (2, 4, 256))
    dev = loader.device_batch(sharding)
    for k in host:
        assert dev[k].sharding == sharding
        np.testing.assert_array_equal(np.asarray(jax.device_get(dev[k])), host[k])


# ------------------------------------------------------------------------------------------------ the mixer


def _write_jsonl(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_mixer_reads_jsonl_datasets_and_built_directories(tmp_path):
    import datasets

    recs = _records(20)
    _write_jsonl(tmp_path / "built" / "train" / "NLI" / "snli.jsonl", recs[:10])
    _write_jsonl(tmp_path / "built" / "train" / "DC" / "mts.jsonl", recs[10:])
    ds_dir = tmp_path / "ds"
    datasets.Dataset.from_list(recs[:8]).save_to_disk(str(ds_dir))
    mixer = {
        str(tmp_path / "built" / "train" / "NLI" / "snli"): 0.35,  # <key>.jsonl fallback; first int(0.35·10)=3
        str(ds_dir): 0.5,  # datasets save_to_disk: first 4
        str(tmp_path / "built"): 1.0,  # a whole build: its train split, every corpus in sorted order
    }
    sources = resolve_mixer(mixer, ["train"])
    got = [r["prompt_id"] for r, _ in iter_mixture(sources)]
    expected = ([r["prompt_id"] for r in recs[:3]] + [r["prompt_id"] for r in recs[:4]]
                + [r["prompt_id"] for r in recs[10:]] + [r["prompt_id"] for r in recs[:10]])
    assert got == expected


def test_mixer_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        resolve_mixer({str(tmp_path / "missing"): 1.0})
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(_records(1)[0])
    bad.write_text(good + "\n{not json\n")
    with pytest.raises(DataError, match=f"{bad}:2"):
        list(iter_mixture(resolve_mixer({str(bad): 1.0})))
    noanswer = multiple_choice("q", "secret question?", ["a", "b"], None, type_="t", text="t")
    bad.write_text(good + "\n" + json.dumps(noanswer) + "\n")
    with pytest.raises(DataError, match=f"{bad}:2: record has no assistant turn") as e:
        list(iter_mixture(resolve_mixer({str(bad): 1.0})))
    assert "secret" not in str(e.value)
    broken = dict(_records(1)[0], task="bogus")
    bad.write_text(json.dumps(broken) + "\n")
    with pytest.raises(DataError, match=f"{bad}:1.*task"):
        list(iter_mixture(resolve_mixer({str(bad): 1.0})))
