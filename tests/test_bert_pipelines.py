"""fill-mask and feature-extraction: same answers as transformers' pipelines; the CLI around them."""

import math
import shutil

import numpy as np
import pytest
import torch

import bertgan
from bertgan.bert.config import BertConfig
from bertgan.bert.hub import save_pretrained
from bertgan.bert.model import BertForPreTraining
from bertgan.cli import main

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory, data_dir):
    tok = data_dir / "all-MiniLM-L6-v2-tokenizer"
    if not (tok / "vocab.txt").is_file():
        pytest.fail(f"missing shared tokenizer {tok}") if __import__("os").environ.get("CI") == "true" else \
            pytest.skip("shared tokenizer missing")
    d = tmp_path_factory.mktemp("mlm")
    torch.manual_seed(0)
    save_pretrained(BertForPreTraining(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                                  num_attention_heads=2, intermediate_size=64,
                                                  max_position_embeddings=64)), d)
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(tok / f, d / f)
    return d


def test_fill_mask_matches_transformers(mlm_dir):
    text = "i went to the [MASK] and bought apples and [MASK]."
    ours = bertgan.pipeline("fill-mask", model=mlm_dir, device="cpu")(text, top_k=5)
    theirs = transformers.pipeline("fill-mask", model=str(mlm_dir), device="cpu", top_k=5)(text)
    assert len(ours) == 2  # one list per [MASK], like the seed's two-mask sentence
    for mine, ref in zip(ours, theirs):
        assert [p["token_id"] for p in mine] == [r["token"] for r in ref]
        assert np.allclose([p["score"] for p in mine], [r["score"] for r in ref], atol=1e-5)
        assert all(a["score"] >= b["score"] for a, b in zip(mine, mine[1:]))


def test_feature_extraction_matches_transformers_cls_and_mean(mlm_dir):
    texts = ["a short one", "a somewhat longer sentence with more words in it"]
    tok = transformers.BertTokenizerFast.from_pretrained(str(mlm_dir))
    hf = transformers.BertModel.from_pretrained(str(mlm_dir)).eval()
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = hf(**enc).last_hidden_state
    m = enc["attention_mask"][..., None].float()
    cls = bertgan.pipeline("feature-extraction", model=mlm_dir, device="cpu")(texts)
    mean = bertgan.pipeline("feature-extraction", model=mlm_dir, device="cpu", pooling="mean")(texts)
    assert torch.allclose(cls, h[:, 0], atol=1e-5)
    assert torch.allclose(mean, (h * m).sum(1) / m.sum(1), atol=1e-5)


def test_feature_extraction_sorted_batches_keep_each_text_in_place(mlm_dir):
    texts = ["one", "a much longer sentence than the others here", "two words", "three words now", "x " * 30]
    pipe = bertgan.pipeline("feature-extraction", model=mlm_dir, device="cpu", pooling="mean")
    alone = torch.stack([pipe(t) for t in texts])
    assert torch.allclose(pipe(texts, batch_size=2), alone, atol=1e-5)

def test_long_input_truncates_with_warning_or_errors(mlm_dir):
    long = " ".join(["word"] * 100) + " [MASK]"
    with pytest.warns(UserWarning, match="truncated"):
        bertgan.pipeline("feature-extraction", model=mlm_dir, device="cpu")(long)
    assert main(["bert", "embed", "--model", str(mlm_dir), "--no-truncate", long]) == 2


def test_cli_fill_mask_and_embed(mlm_dir, tmp_path, capsys):
    assert main(["bert", "fill-mask", "--model", str(mlm_dir), "--top-k", "3", "the [MASK] sat on the [MASK]"]) == 0
    out = capsys.readouterr().out
    assert "[MASK] 1:" in out and "[MASK] 2:" in out
    texts = tmp_path / "t.txt"
    texts.write_text("first line\n\nsecond line\n", encoding="utf-8")
    npy = tmp_path / "v.npy"
    assert main(["bert", "embed", "--model", str(mlm_dir), "--input", str(texts), "--out", str(npy),
                 "--pooling", "mean"]) == 0
    assert np.load(npy).shape == (2, 32)


@pytest.mark.parametrize("argv,message", [
    (["bert", "fill-mask", "--model", "{m}", "no mask here"], "has no [MASK]"),
    (["bert", "fill-mask", "--model", "{tmp}/none", "a [MASK]"], "no such folder"),
    (["bert", "fill-mask", "--model", "{tmp}", "a [MASK]"], "no tokenizer"),
    (["bert", "embed", "--model", "{m}"], "give texts as arguments or --input"),
    (["bert", "embed", "--model", "{m}", "--input", "{tmp}/bad.txt"], "line 2 is not UTF-8"),
    (["bert", "embed", "--model", "{m}", "--pooling", "max", "x"], "argument --pooling: invalid choice: 'max'"),
])
def test_bad_input(argv, message, mlm_dir, tmp_path, capsys):
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe broken\n")
    argv = [a.replace("{m}", str(mlm_dir)).replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_no_mlm_head_is_refused(tmp_path, mlm_dir, capsys):
    from bertgan.bert.model import BertModel

    save_pretrained(BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=64)), tmp_path)
    for f in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(mlm_dir / f, tmp_path / f)
    assert main(["bert", "fill-mask", "--model", str(tmp_path), "a [MASK]"]) == 2
    assert "no masked-LM head" in capsys.readouterr().err


def test_dry_runs(mlm_dir, capsys):
    assert main(["bert", "fill-mask", "--model", str(mlm_dir), "--dry-run", "a [MASK] b [MASK]"]) == 0
    assert "2 [MASK]" in capsys.readouterr().out
    assert main(["bert", "embed", "--model", str(mlm_dir), "--dry-run", "x", "y"]) == 0
    assert "2 text(s)" in capsys.readouterr().out


def test_glued_word_continues_the_mask_and_whole_word_decoding(mlm_dir):
    pipe = bertgan.pipeline("fill-mask", model=mlm_dir, device="cpu")
    tok = pipe.tokenizer
    ids, starts = pipe._mask_ids("the [MASK]ing dog [MASK].")
    # 'ing' glued to the mask is the continuation piece '##ing', as in 'walking' (walk ##ing); '.' is punctuation
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "the", "[MASK]", "##ing", "dog", "[MASK]", ".", "[SEP]"]
    assert starts == [True, True]
    assert pipe._mask_ids("un[MASK] x")[1] == [False]  # after letters, the mask continues a word
    words = pipe("the [MASK] sat down.", top_k=4, whole_word=2)
    assert len(words) == 1 and len(words[0]) == 4
    scores = [w["score"] for w in words[0]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    for w in words[0]:
        assert not w["pieces"][0].startswith("##") and all(p.startswith("##") for p in w["pieces"][1:])
        assert w["word"] == "".join(p.removeprefix("##") for p in w["pieces"])
    # a one-piece word's joint probability is its probability as a single [MASK] answer, restricted to word starts
    single = {p["token"]: p["score"] for p in pipe("the [MASK] sat down.", top_k=50)[0]}
    for w in words[0]:
        if len(w["pieces"]) == 1 and w["word"] in single:
            assert abs(w["score"] - single[w["word"]]) < 1e-6
    # the joint probability of a two-piece word is P(first) × P(second | first) — checked by hand on the best beam
    ids, _ = pipe._mask_ids("the [MASK] sat down.")
    (first, second), logp = pipe._beam(ids, 2, 2, True, 3)[0]
    assert not tok.convert_ids_to_tokens(first).startswith("##") and tok.convert_ids_to_tokens(second).startswith("##")
    mask = tok.mask_token_id
    p1 = pipe._probs([ids[:2] + [mask, mask] + ids[3:]])[0, 2, first]
    p2 = pipe._probs([ids[:2] + [first, mask] + ids[3:]])[0, 3, second]
    assert abs(math.exp(logp) - float(p1 * p2)) <= 1e-5 * float(p1 * p2)
    assert main(["bert", "fill-mask", "--model", str(mlm_dir), "--whole-word", "9", "a [MASK]"]) == 2


def test_packaged_model_names(mlm_dir, tmp_path, monkeypatch, capsys):
    """A model that ships in the package is used by name wherever a folder is: fill-mask, embed, evaluate,
    finetune; 'bert list-models' lists it; an unknown name lists the known ones."""
    import bertgan.bert.hub as hub

    shutil.copytree(mlm_dir, tmp_path / "models" / "tiny-en")
    monkeypatch.setattr(hub, "PACKAGED_DIR", tmp_path / "models")
    monkeypatch.chdir(tmp_path)  # no folder called tiny-en here
    assert hub.model_path("tiny-en") == tmp_path / "models" / "tiny-en"
    assert main(["bert", "list-models"]) == 0
    listed = capsys.readouterr().out
    assert "tiny-en" in listed and "2 layers × 32" in listed and "with MLM head" in listed
    by_name = bertgan.pipeline("fill-mask", model="tiny-en", device="cpu")("the [MASK] sat.", top_k=3)
    by_dir = bertgan.pipeline("fill-mask", model=mlm_dir, device="cpu")("the [MASK] sat.", top_k=3)
    assert by_name == by_dir
    assert main(["bert", "embed", "--model", "tiny-en", "x"]) == 0
    capsys.readouterr()
    assert main(["bert", "fill-mask", "--model", "tiny-nope", "a [MASK]"]) == 2
    err = capsys.readouterr().err
    assert "no packaged model of that name" in err and "tiny-en" in err
