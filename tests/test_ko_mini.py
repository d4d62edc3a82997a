"""The Korean BERT that ships in the package (src/bertgan/bert/models/ko-mini): it is there after install, is used
by name, cuts the BERT text's word as the text does and answers its fill-mask sentence."""

import json
import math

import pytest
import torch

import bertgan
from bertgan.bert.hub import PACKAGED_DIR, model_path, packaged_models
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.cli import main

SEED_WORD = "감사합니다"
SEED_SENTENCE = "나는 [MASK]에 가서 사과와 [MASK]를 샀다"
FOLDER = PACKAGED_DIR / "ko-mini"


def test_ships_with_the_package_within_its_size():
    assert packaged_models()["ko-mini"] == FOLDER == model_path("ko-mini")
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "card.md"):
        assert (FOLDER / name).is_file(), name
    assert (FOLDER / "model.safetensors").stat().st_size <= 30 * 2**20
    cfg = json.loads((FOLDER / "config.json").read_text())
    assert cfg["vocab_size"] == 32000 and "BertForPreTraining" in cfg["architectures"]


def test_the_seed_split():
    tok = WordPieceTokenizer.from_dir(FOLDER)
    assert tok.tokenize(SEED_WORD) == ["감사", "##합니다"]


def test_loads_in_half_precision_files_and_answers_the_seed_sentence():
    from safetensors import safe_open

    with safe_open(str(FOLDER / "model.safetensors"), "pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes <= {"F16", "BF16", "I64"} and dtypes & {"F16", "BF16"}
    got = bertgan.pipeline("fill-mask", model="ko-mini", device="cpu")(SEED_SENTENCE, top_k=10)
    assert len(got) == 2  # one list per [MASK]
    for masks in got:
        assert len(masks) == 10
        scores = [p["score"] for p in masks]
        assert all(math.isfinite(s) and 0 < s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
        assert len({p["token"] for p in masks}) == 10


def test_hidden_states_are_finite_and_bidirectional():
    from bertgan.bert.hub import from_pretrained

    model = from_pretrained(FOLDER).eval()
    tok = WordPieceTokenizer.from_dir(FOLDER)
    a = tok.encode("나는 슈퍼에 가서 사과를 샀다")
    b = tok.encode("나는 슈퍼에 가서 배를 샀다")
    with torch.no_grad():
        ha = model(torch.tensor([a.ids])).last_hidden_state
        hb = model(torch.tensor([b.ids])).last_hidden_state
    assert torch.isfinite(ha).all()
    assert not torch.allclose(ha[0, 1], hb[0, 1])  # a later word changes the first word's vector: both directions


def test_cli_fill_mask_by_name(capsys):
    assert main(["bert", "fill-mask", "--model", "ko-mini", "--top-k", "3", SEED_SENTENCE]) == 0
    out = capsys.readouterr().out
    assert out.count("[MASK]") >= 2


@pytest.mark.parametrize("command", [["tokenizer", "encode", "--tokenizer", "ko-mini", SEED_WORD]])
def test_tokenizer_commands_take_the_name(command, capsys):
    assert main(command) == 0
    assert "##합니다" in capsys.readouterr().out
