"""ONNX export: every fine-tuned head and the bare encoder, and a GAN generator, give the torch model's outputs
through onnxruntime (within 1e-4) on batches of other shapes than the export's, and load without bertgan."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from bertgan.bert.config import BertConfig
from bertgan.bert.hub import save_pretrained
from bertgan.bert.model import (
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from bertgan.cli import main

pytest.importorskip("onnx") if __import__("os").environ.get("CI") != "true" else None
import onnxruntime  # noqa: E402  (the test extra installs it; under CI a missing one fails here)

CFG = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
           max_position_embeddings=64)
HEADS = {"BertForSequenceClassification": (BertForSequenceClassification, {"id2label": {0: "neg", 1: "pos"}}),
         "BertForTokenClassification": (BertForTokenClassification, {"id2label": {0: "O", 1: "B-X", 2: "I-X"}}),
         "BertForQuestionAnswering": (BertForQuestionAnswering, {}),
         "BertModel": (BertModel, {})}


def _batch(n: int, length: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 120, (n, length), generator=g)
    mask = torch.ones_like(ids)
    for i in range(1, n):  # rows padded by different amounts
        mask[i, length - i * length // (n + 1):] = 0
    ids = ids * mask
    types = torch.zeros_like(ids)
    types[:, length // 2:] = 1
    return ids, mask, types * mask


@pytest.mark.parametrize("head", sorted(HEADS))
def test_each_head_matches_torch_through_onnxruntime(head, tmp_path, monkeypatch):
    from bertgan.onnx import OnnxBert, export_bert

    cls, extra = HEADS[head]
    torch.manual_seed(0)
    model = cls(BertConfig(**CFG, **extra)).eval()
    path = export_bert(model, tmp_path / "m.onnx")
    graph = OnnxBert(path)
    for n, length, seed in ((1, 5, 1), (3, 17, 2), (4, 40, 3)):  # none of them the export's (2, 6)
        ids, mask, types = _batch(n, length, seed)
        with torch.no_grad():
            ours = model(ids, mask, types)
        got = graph(ids, mask, types)
        for name in graph.outputs:
            ref, out = getattr(ours, name), getattr(got, name)
            if ref.dim() >= 2 and tuple(ref.shape[:2]) == tuple(mask.shape):  # per token: real positions only
                ref, out = ref[mask.bool()], out[mask.bool()]
            assert out.shape == ref.shape, name
            assert float((out - ref).abs().max()) < 1e-4, (name, n, length)


def test_the_file_runs_without_bertgan(tmp_path):
    from bertgan.onnx import export_bert

    torch.manual_seed(0)
    export_bert(BertForSequenceClassification(BertConfig(**CFG, id2label={0: "a", 1: "b"})).eval(),
                tmp_path / "m.onnx")
    code = ("import sys, numpy as np, onnxruntime as ort\n"
            f"s = ort.InferenceSession({str(tmp_path / 'm.onnx')!r})\n"
            "ids = np.array([[2, 9, 10, 3], [2, 11, 3, 0]], dtype=np.int64)\n"
            "out = s.run(['logits'], {'input_ids': ids, 'attention_mask': (ids > 0).astype(np.int64), "
            "'token_type_ids': np.zeros_like(ids)})[0]\n"
            "print(out.shape, 'bertgan' in sys.modules, 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "(2, 2) False False"


def test_cli_export_and_predict_with_onnx(tmp_path, capsys, data_dir):
    from conftest import shared_path

    from bertgan.bert.tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer.from_dir(shared_path("all-MiniLM-L6-v2-tokenizer"))
    torch.manual_seed(0)
    folder = tmp_path / "cls"
    save_pretrained(BertForSequenceClassification(BertConfig(**{**CFG, "vocab_size": tok.vocab_size},
                                                             id2label={0: "neg", 1: "pos"})), folder)
    tok.save(folder)
    assert main(["bert", "export", "--model", str(folder), "--onnx", str(tmp_path / "cls.onnx")]) == 0
    assert "BertForSequenceClassification: logits" in capsys.readouterr().out
    texts = ["a fine film", "not good at all , and far too long for what it says"]
    assert main(["bert", "predict", "classify", "--model", str(folder), "--json", *texts]) == 0
    torch_rows = capsys.readouterr().out
    assert main(["bert", "predict", "classify", "--model", str(folder), "--onnx", str(tmp_path / "cls.onnx"),
                 "--json", *texts]) == 0
    onnx_rows = capsys.readouterr().out
    import json

    a = [json.loads(x) for x in torch_rows.splitlines()]
    b = [json.loads(x) for x in onnx_rows.splitlines()]
    assert [x["label"] for x in a] == [x["label"] for x in b]
    assert np.allclose([x["score"] for x in a], [x["score"] for x in b], atol=1e-5)
    assert main(["bert", "export", "--model", str(folder), "--onnx", str(tmp_path / "x.txt")]) == 2


def test_generator_export_matches_torch(tmp_path, capsys):
    from bertgan.gan.config import resolve
    from bertgan.gan.models import sample_prior
    from bertgan.gan.trainer import load_generator, train

    for conditional in (False, True):
        run = tmp_path / f"run{int(conditional)}"
        train(resolve("dcgan", dataset="digits", width=8, batch_size=16, max_steps=2, precision="fp32",
                      device="cpu", ema=0.9, conditional=conditional), run, progress=False)
        assert main(["gan", "export", "--run", str(run), "--onnx", str(run / "g.onnx")]) == 0
        G, cfg = load_generator(run, torch.device("cpu"))
        s = onnxruntime.InferenceSession(str(run / "g.onnx"))
        z = sample_prior(5, cfg.latent_dim, generator=torch.Generator().manual_seed(1))
        feed = {"z": z.numpy()}
        with torch.no_grad():
            if conditional:
                y = torch.tensor([0, 1, 2, 3, 9])
                feed["y"], ref = y.numpy(), G(z, y)
            else:
                ref = G(z)
        out = s.run(["images"], feed)[0]
        assert out.shape == (5, 1, 32, 32) and np.abs(out - ref.numpy()).max() < 1e-4
