"""text-classification, token-classification and question-answering pipelines against transformers; the
``bertgan bert predict`` CLI around them; Korean words and offsets with a tokenizer trained here."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import shared_path

import bertgan
from bertgan.bert.config import BertConfig
from bertgan.bert.hub import save_pretrained
from bertgan.bert.model import BertForPreTraining, BertForTokenClassification
from bertgan.bert.pipelines import _word_windows
from bertgan.bert.tokenizer import WordPieceTokenizer
from bertgan.cli import main
from bertgan.errors import UsageError
from bertgan.metrics.seqeval import entities

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SENTIMENT = ["negative", "neutral", "positive"]


def _hf_folder(tmp_path_factory, cls_name: str, labels: list[str] | None, name: str):
    """A small random transformers model of ``cls_name`` with the MiniLM tokenizer beside it. The head is drawn
    with a large spread so that the predictions are decisive, not near-uniform."""
    transformers = pytest.importorskip("transformers")
    tok = shared_path("all-MiniLM-L6-v2-tokenizer")
    d = tmp_path_factory.mktemp(name)
    torch.manual_seed(0)
    extra = {} if labels is None else {"id2label": dict(enumerate(labels)),
                                      "label2id": {v: i for i, v in enumerate(labels)}}
    cfg = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=128, **extra)
    model = getattr(transformers, cls_name)(cfg)
    head = model.qa_outputs if cls_name == "BertForQuestionAnswering" else model.classifier
    torch.nn.init.normal_(head.weight, std=1.0)
    model.save_pretrained(d)
    for f in TOKENIZER_FILES:
        shutil.copy(tok / f, d / f)
    return d


@pytest.fixture(scope="module")
def cls_dir(tmp_path_factory):
    return _hf_folder(tmp_path_factory, "BertForSequenceClassification", SENTIMENT, "cls")


@pytest.fixture(scope="module")
def tag_dir(tmp_path_factory):
    return _hf_folder(tmp_path_factory, "BertForTokenClassification", TAGS, "tag")


@pytest.fixture(scope="module")
def qa_dir(tmp_path_factory):
    return _hf_folder(tmp_path_factory, "BertForQuestionAnswering", None, "qa")


@pytest.fixture(scope="module")
def pretrain_dir(tmp_path_factory):
    tok = shared_path("all-MiniLM-L6-v2-tokenizer")
    d = tmp_path_factory.mktemp("pre")
    save_pretrained(BertForPreTraining(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=64,
                                                  max_position_embeddings=64)), d)
    for f in TOKENIZER_FILES:
        shutil.copy(tok / f, d / f)
    return d


# ----------------------------------------------------------------------------------------------- classification

TEXTS = ["what a wonderful film, i loved every minute", "dull.", "the plot was fine but the acting was not"]


def test_text_classification_matches_transformers(cls_dir):
    transformers = pytest.importorskip("transformers")
    ours = bertgan.pipeline("text-classification", model=cls_dir, device="cpu")
    theirs = transformers.pipeline("text-classification", model=str(cls_dir), device="cpu")
    for text, mine in zip(TEXTS, ours(TEXTS, top_k=None)):
        ref = theirs(text, top_k=None)  # every label, best first
        assert [m["label"] for m in mine] == [r["label"] for r in ref]
        assert all(abs(m["score"] - r["score"]) < 1e-4 for m, r in zip(mine, ref))
        assert abs(sum(m["score"] for m in mine) - 1) < 1e-5
    top1 = ours(TEXTS[0])  # one text, top_k=1: one dict, as transformers' legacy single-label output
    assert top1 == pytest.approx(ours(TEXTS, top_k=None)[0][0])  # padding in the batch: float noise only
    assert [r["label"] for r in ours(TEXTS[1], top_k=2)] == [r["label"] for r in theirs(TEXTS[1], top_k=2)]
    # a sentence pair: [CLS] a [SEP] b [SEP] with segments 0 and 1, as transformers' {"text", "text_pair"}
    pair = ours("a man is playing a guitar", "someone makes music", top_k=None)
    ref = theirs({"text": "a man is playing a guitar", "text_pair": "someone makes music"}, top_k=None)
    assert [p["label"] for p in pair] == [r["label"] for r in ref]
    assert all(abs(p["score"] - r["score"]) < 1e-4 for p, r in zip(pair, ref))


def test_text_classification_batches_and_top_k(cls_dir):
    pipe = bertgan.pipeline("text-classification", model=cls_dir, device="cpu")
    one, padded = pipe(TEXTS, batch_size=1), pipe(TEXTS, batch_size=32)
    assert [r["label"] for r in one] == [r["label"] for r in padded]  # padding changes nothing but float noise
    assert [r["score"] for r in one] == pytest.approx([r["score"] for r in padded], abs=1e-6)
    for bad in (0, 4):
        with pytest.raises(UsageError, match=f"--top-k {bad}"):
            pipe(TEXTS, top_k=bad)
    with pytest.raises(UsageError, match="one pair per text"):
        pipe(TEXTS, ["only one pair"])


def test_text_classification_sorts_by_length_and_restores_the_order(cls_dir):
    """Batches are cut from the texts sorted by length; each result must still land at its own text."""
    pipe = bertgan.pipeline("text-classification", model=cls_dir, device="cpu")
    texts = [TEXTS[i % 3] + " and more" * (i % 5) for i in range(11)]  # lengths out of order
    alone = [pipe(t, top_k=None) for t in texts]
    for got, want in zip(pipe(texts, top_k=None, batch_size=4), alone):
        assert [g["label"] for g in got] == [w["label"] for w in want]
        assert [g["score"] for g in got] == pytest.approx([w["score"] for w in want], abs=1e-5)


def test_text_classification_bf16(cls_dir):
    """precision="bf16" runs the encoder under bf16 autocast: the same ranking here, scores within bf16 rounding."""
    fp32 = bertgan.pipeline("text-classification", model=cls_dir, device="cpu")(TEXTS, top_k=None)
    pipe = bertgan.pipeline("text-classification", model=cls_dir, device="cpu", precision="bf16")
    assert pipe.precision == "bf16"
    for got, want in zip(pipe(TEXTS, top_k=None), fp32):
        assert [g["score"] for g in got] == pytest.approx([w["score"] for w in want], abs=0.02)
    with pytest.raises(UsageError, match="--precision fp16"):
        bertgan.pipeline("text-classification", model=cls_dir, device="cpu", precision="fp16")


# ------------------------------------------------------------------------------------------ token classification

SENTENCE = "John Smithson lives in Washingtonville, near the Mississippi river."


def test_token_classification_first_subtoken_matches_transformers(tag_dir):
    transformers = pytest.importorskip("transformers")
    words = SENTENCE.split()
    ours = bertgan.pipeline("token-classification", model=tag_dir, device="cpu")(SENTENCE)
    hf = transformers.pipeline("token-classification", model=str(tag_dir), device="cpu", ignore_labels=[])
    tokens = hf(words, is_split_into_words=True)
    tokens = tokens[0] if tokens and isinstance(tokens[0], list) else tokens
    word_ids = transformers.AutoTokenizer.from_pretrained(str(tag_dir))(words, is_split_into_words=True).word_ids()
    first = {}  # word → its first token's prediction (transformers' "first" rule, aggregation_strategy="first")
    for t in tokens:
        first.setdefault(word_ids[t["index"]], t)
    assert len(ours) == len(words) == len(first)
    assert any(w["tag"] != "O" for w in ours) and len({w["tag"] for w in ours}) > 1  # a decisive, varied head
    for i, (mine, w) in enumerate(zip(ours, words)):
        assert mine["word"] == w and SENTENCE[mine["start"]:mine["end"]] == w
        assert mine["tag"] == first[i]["entity"]
        assert abs(mine["score"] - float(first[i]["score"])) < 1e-4
    # "Washingtonville," is several WordPieces; its tag is the first one's, whatever the others say
    assert len([t for t in tokens if word_ids[t["index"]] == 4]) > 1


def test_token_classification_inputs_offsets_and_aggregation(tag_dir):
    pipe = bertgan.pipeline("token-classification", model=tag_dir, device="cpu")
    spaced = "  John   Smithson\tlives in\nWashingtonville,  "
    out = pipe(spaced)
    assert [w["word"] for w in out] == spaced.split()
    assert all(spaced[w["start"]:w["end"]] == w["word"] for w in out)
    as_words = pipe(spaced.split())  # pre-split: offsets into " ".join(words)
    assert [(w["tag"], w["word"]) for w in as_words] == [(w["tag"], w["word"]) for w in out]
    assert [w["score"] for w in as_words] == pytest.approx([w["score"] for w in out], abs=1e-5)
    assert as_words[1]["start"] == len("John ")
    assert pipe("") == [] and pipe.batch([]) == []
    batched = pipe.batch([SENTENCE, spaced.split(), "x"], batch_size=2)
    assert [w["tag"] for w in batched[0]] == [w["tag"] for w in pipe(SENTENCE)]
    assert pipe([SENTENCE.split(), ["x"]])[1] == batched[2]

    tagged = pipe(SENTENCE)
    groups = pipe(SENTENCE, aggregate=True)
    spans = entities([w["tag"] for w in tagged])
    assert [g["entity_group"] for g in groups] == [kind for kind, _, _ in spans]
    for g, (_, a, b) in zip(groups, spans):
        assert g["text"] == SENTENCE[g["start"]:g["end"]] == " ".join(SENTENCE.split()[a:b])
        assert g["score"] == pytest.approx(sum(w["score"] for w in tagged[a:b]) / (b - a))


def test_token_classification_windows_keep_every_word(tag_dir):
    pipe = bertgan.pipeline("token-classification", model=tag_dir, device="cpu")
    words = ("the quick brown fox jumped over Washingtonville and Mississippi " * 15).split()  # > 128 positions
    out = pipe(" ".join(words))
    assert [w["word"] for w in out] == words
    # With no overlap the windows are disjoint: each must read exactly as that window's words alone.
    lengths = [len(pipe.tokenizer.tokenize(w)) for w in words]
    windows = _word_windows(lengths, 14, 0)
    disjoint = pipe(words, max_length=16, stride=0)
    alone = [w for window in pipe.batch([words[a:b] for a, b in windows]) for w in window]
    assert [w["tag"] for w in disjoint] == [w["tag"] for w in alone]
    assert [w["score"] for w in disjoint] == pytest.approx([w["score"] for w in alone], abs=1e-5)
    overlapped = pipe(words, max_length=16, stride=6)
    assert len(overlapped) == len(words)
    with pytest.raises(UsageError, match="max_length"):
        pipe(words, max_length=1000)


def test_word_windows_cover_fit_and_overlap():
    lengths = [1, 3, 2, 5, 1, 1, 4, 2, 2, 3, 1]
    for budget, overlap in ((5, 0), (5, 2), (6, 3), (20, 5)):
        windows = _word_windows(lengths, budget, overlap)
        assert windows[0][0] == 0 and windows[-1][1] == len(lengths)
        for (a, b), (c, d) in zip(windows, windows[1:]):
            assert a < c <= b < d  # progress, no gap
            assert sum(lengths[c:b]) <= overlap
        assert all(sum(lengths[a:b]) <= budget for a, b in windows)
    assert _word_windows([], 5, 1) == []


def test_korean_words_and_offsets(tmp_path):
    corpus = tmp_path / "ko.txt"
    corpus.write_text("나는 시장에 가서 사과를 샀다.\n나는 학교에 가서 친구를 만났다.\n시장에서 사과와 바나나를 샀다.\n"
                      "감사합니다. 친구는 사과를 좋아한다.\n", encoding="utf-8")
    tok = WordPieceTokenizer.train(corpus, vocab_size=120, min_frequency=1)
    torch.manual_seed(0)
    model = BertForTokenClassification(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=64,
                                                  max_position_embeddings=32,
                                                  id2label=dict(enumerate(TAGS))))
    torch.nn.init.normal_(model.classifier.weight, std=1.0)
    folder = tmp_path / "ko-ner"
    save_pretrained(model, folder)
    tok.save(folder)
    text = "나는 시장에 가서 사과를 샀다."
    out = bertgan.pipeline("token-classification", model=folder, device="cpu")(text)
    assert [(w["word"], w["start"], w["end"]) for w in out] == [
        ("나는", 0, 2), ("시장에", 3, 6), ("가서", 7, 9), ("사과를", 10, 13), ("샀다.", 14, 17)]
    # the tag is read at each eojeol's first WordPiece of one [CLS] w1 w2 … [SEP] sequence
    pieces = [tok.encode(w, truncation=None).ids[1:-1] for w in text.split()]
    ids = [tok.cls_token_id] + [i for p in pieces for i in p] + [tok.sep_token_id]
    firsts = [1 + sum(len(p) for p in pieces[:k]) for k in range(len(pieces))]
    assert any(len(p) > 1 for p in pieces)  # some eojeol is split into pieces
    with torch.no_grad():
        probs = model.eval()(torch.tensor([ids])).logits[0].softmax(-1)
    assert [w["tag"] for w in out] == [TAGS[int(probs[f].argmax())] for f in firsts]
    assert [w["score"] for w in out] == pytest.approx([float(probs[f].max()) for f in firsts], abs=1e-6)
    groups = bertgan.pipeline("token-classification", model=folder, device="cpu")(text, aggregate=True)
    assert all(text[g["start"]:g["end"]] == g["text"] for g in groups)


# ------------------------------------------------------------------------------------------ question answering

QA = [("Who wrote the letter to the king?", "The letter to the king was written by Anne Boleyn in the spring of 1536, "
       "shortly before her trial in London."),
      ("Where is the museum?", "The museum is in Paris, beside the river, and it opens at nine every morning."),
      ("What did they buy?", "They went to the market and bought apples, bananas and a loaf of bread.")]


def _oracle(tok, model, question: str, context: str, max_answer_length: int = 30):
    """Brute force over every span with transformers' model, tokenizer and offsets, ranked by run_squad.py's rule
    (the one bertgan's evaluation uses): the raw start logit + end logit, context tokens only, end ≥ start within
    max_answer_length."""
    enc = tok(question, context, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    seq = enc.sequence_ids(0)
    with torch.no_grad():
        out = model(**enc)
    ctx = [j for j, s in enumerate(seq) if s == 1]
    spans = [(float(out.start_logits[0, s] + out.end_logits[0, e]), offsets[s][0], offsets[e][1])
             for s in ctx for e in ctx if s <= e < s + max_answer_length]
    _, a, b = max(spans)
    return {"answer": context[a:b], "start": a, "end": b}


def test_question_answering_matches_brute_force_oracle(qa_dir):
    # transformers 5 has no "question-answering" pipeline any more, so the reference is an oracle built from
    # transformers' own model, tokenizer and offsets, searched exhaustively by the evaluation's ranking. Contexts
    # here fit one window, so windowing and max-context rules do not enter.
    transformers = pytest.importorskip("transformers")
    pipe = bertgan.pipeline("question-answering", model=qa_dir, device="cpu")
    tok = transformers.BertTokenizerFast.from_pretrained(str(qa_dir))
    model = transformers.BertForQuestionAnswering.from_pretrained(str(qa_dir)).eval()
    for question, context in QA:
        ours = pipe(question=question, context=context)
        ref = _oracle(tok, model, question, context)
        assert (ours["answer"], ours["start"], ours["end"]) == (ref["answer"], ref["start"], ref["end"])
        assert context[ours["start"]:ours["end"]] == ours["answer"] and 0 < ours["score"] <= 1
    batch = pipe(question=[q for q, _ in QA], context=[c for _, c in QA], batch_size=2)
    assert [b["answer"] for b in batch] == [pipe(question=q, context=c)["answer"] for q, c in QA]
    top = pipe(question=QA[0][0], context=QA[0][1], top_k=3)
    assert top[0] == pipe(question=QA[0][0], context=QA[0][1])
    assert len({t["answer"] for t in top}) == 3 and all(x["score"] >= y["score"] for x, y in zip(top, top[1:]))


def test_pipeline_answers_equal_the_evaluations_predictions_across_windows(qa_dir):
    """One model, one answer: on contexts that need several windows, `bertgan bert predict qa` (the pipeline) gives
    exactly the answers the fine-tuning evaluation scores (squad_features.decode over predict_logits)."""
    from bertgan.bert.finetune import predict_logits
    from bertgan.bert.squad_features import build_features, decode
    from bertgan.data.squad import SquadExample

    pipe = bertgan.pipeline("question-answering", model=qa_dir, device="cpu")
    contexts = [" ".join(f"In {1900 + i + 7 * k} the council of town {i} built a {w} bridge." for i in range(30))
                for k, w in enumerate(("stone", "wooden", "iron", "long"))]
    questions = ["When was the bridge built?", "Who built the bridge?", "What kind of bridge?", "Which town?"]
    examples = [SquadExample(id=str(i), title="", question=q, context=c)
                for i, (q, c) in enumerate(zip(questions, contexts))]
    settings = dict(max_seq_length=64, doc_stride=24, max_query_length=16)
    features = build_features(examples, pipe.tokenizer, **settings)
    assert len(features) >= 4 * len(examples)  # every context needs several windows
    feats = [{"input_ids": f.input_ids[:sum(f.attention_mask)], "token_type_ids": f.token_type_ids[:sum(
        f.attention_mask)]} for f in features]
    logits = predict_logits(pipe.model, feats, pipe.tokenizer.pad_token_id, 8, torch.device("cpu"), "fp32")
    evaluation = decode(examples, features, [s for s, _ in logits], [e for _, e in logits], max_answer_length=10)
    answers = pipe(question=questions, context=contexts, max_seq_length=64, doc_stride=24, max_question_length=16,
                   max_answer_length=10)
    assert [a["answer"] for a in answers] == [evaluation[str(i)] for i in range(len(examples))]


def test_question_answering_long_context_and_offsets(qa_dir):
    pipe = bertgan.pipeline("question-answering", model=qa_dir, device="cpu")
    context = " ".join(f"In {1900 + i} the  Société  of town {i} built a bridge." for i in range(40))  # 100s of tokens
    for max_seq_length, doc_stride in ((48, 16), (128, 40)):
        for r in pipe(question="When was the bridge built?", context=context, top_k=5, max_seq_length=max_seq_length,
                      doc_stride=doc_stride, max_answer_length=8):
            assert r["answer"] and context[r["start"]:r["end"]] == r["answer"]  # original spelling and accents
    with pytest.raises(UsageError, match="max-seq-length 512"):
        pipe(question="q", context=context, max_seq_length=512)
    with pytest.raises(UsageError, match="one context per question"):
        pipe(question=["a", "b"], context=["c"])
    with pytest.raises(UsageError, match="question 1: empty"):
        pipe(question=" ", context="c")


# ------------------------------------------------------------------------------------------ heads and folders

@pytest.mark.parametrize("task,head", [("text-classification", "'classifier'"),
                                       ("token-classification", "'classifier'"),
                                       ("question-answering", "'qa_outputs'")])
def test_pretraining_checkpoint_is_refused(pretrain_dir, task, head):
    with pytest.raises(UsageError, match=f"no fine-tuned {head} weights") as e:
        bertgan.pipeline(task, model=pretrain_dir, device="cpu")
    assert "bertgan bert finetune" in str(e.value)


def test_wrong_head_and_non_bio_labels(tag_dir, cls_dir):
    with pytest.raises(UsageError, match="holds a BertForTokenClassification"):
        bertgan.pipeline("text-classification", model=tag_dir, device="cpu")
    with pytest.raises(UsageError, match="holds a BertForSequenceClassification"):
        bertgan.pipeline("question-answering", model=cls_dir, device="cpu")
    folder = cls_dir.parent / "tag-sentiment"  # a token head whose labels are not BIO tags
    if not folder.exists():
        torch.manual_seed(0)
        save_pretrained(BertForTokenClassification(BertConfig(
            vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, id2label=dict(enumerate(SENTIMENT)))), folder)
        for f in TOKENIZER_FILES:
            shutil.copy(cls_dir / f, folder / f)
    pipe = bertgan.pipeline("token-classification", model=folder, device="cpu")
    assert {w["tag"] for w in pipe("a b c")} <= set(SENTIMENT)
    with pytest.raises(UsageError, match="aggregate needs IOB2/BIO tags"):
        pipe("a b c", aggregate=True)


# ----------------------------------------------------------------------------------------------------- the CLI

def test_cli_classify(cls_dir, tmp_path, capsys):
    assert main(["bert", "predict", "classify", "--model", str(cls_dir), *TEXTS[:2]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0] in SENTIMENT and lines[0].endswith(TEXTS[0])
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("a man plays a guitar\n\nthe sky is green\n", encoding="utf-8")
    second.write_text("someone makes music\n\nthe sky is blue\n", encoding="utf-8")
    assert main(["bert", "predict", "classify", "--model", str(cls_dir), "--input", str(first), "--pair-input",
                 str(second), "--top-k", "2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ref = bertgan.pipeline("text-classification", model=cls_dir, device="cpu")(
        "the sky is green", "the sky is blue", top_k=2)
    assert [r["pair"] for r in rows] == ["someone makes music", "the sky is blue"]
    assert [x["label"] for x in rows[1]["labels"]] == [x["label"] for x in ref]
    assert main(["bert", "predict", "classify", "--model", str(cls_dir), "--dry-run", "--input", str(first)]) == 0
    assert "would classify 2 text(s)" in capsys.readouterr().out


def test_cli_tag(tag_dir, capsys):
    assert main(["bert", "predict", "tag", "--model", str(tag_dir), SENTENCE, "two words"]) == 0
    blocks = capsys.readouterr().out.split("\n\n")
    assert [line.split("\t")[0] for line in blocks[0].splitlines()] == SENTENCE.split()
    assert all(line.split("\t")[1] in TAGS for line in blocks[1].splitlines())
    assert main(["bert", "predict", "tag", "--model", str(tag_dir), "--aggregate", "--json", SENTENCE]) == 0
    row = json.loads(capsys.readouterr().out)
    ref = bertgan.pipeline("token-classification", model=tag_dir, device="cpu")(SENTENCE, aggregate=True)
    # field by field: pytest.approx does not compare lists of dicts on every pytest the test extra allows
    assert [{k: v for k, v in e.items() if k != "score"} for e in row["entities"]] == \
        [{k: v for k, v in e.items() if k != "score"} for e in ref]
    assert [e["score"] for e in row["entities"]] == pytest.approx([e["score"] for e in ref])
    assert main(["bert", "predict", "tag", "--model", str(tag_dir), "--aggregate", SENTENCE]) == 0
    assert capsys.readouterr().out.startswith(SENTENCE + "\n  ")


def test_cli_qa(qa_dir, tmp_path, capsys):
    question, context = QA[1]
    assert main(["bert", "predict", "qa", "--model", str(qa_dir), "--question", question, "--context", context]) == 0
    answer, score, span = capsys.readouterr().out.strip().split("\t")
    start, end = map(int, span.split("-"))
    assert context[start:end] == answer and 0 < float(score) <= 1
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text("\n".join(json.dumps({"question": q, "context": c, **({"id": 7} if i == 0 else {})})
                               for i, (q, c) in enumerate(QA)) + "\n", encoding="utf-8")
    assert main(["bert", "predict", "qa", "--model", str(qa_dir), "--input", str(jsonl), "--json", "--top-k", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["7", "2", "3"] and all(len(r["answers"]) == 2 for r in rows)
    assert rows[1]["answers"][0]["answer"] == answer


@pytest.mark.parametrize("argv,message", [
    (["classify", "--model", "{cls}"], "give texts as arguments or --input"),
    (["classify", "--model", "{cls}", "--top-k", "4", "x"], "--top-k 4: the model has 3 labels"),
    (["classify", "--model", "{cls}", "--top-k", "4", "--dry-run", "x"], "--top-k 4: the model has 3 labels"),
    (["classify", "--model", "{cls}", "--top-k", "0", "x"], "--top-k 0"),
    (["classify", "--model", "{cls}", "--input", "{tmp}/bad.txt"], "line 2 is not UTF-8"),
    (["classify", "--model", "{cls}", "--input", "{tmp}/empty.txt"], "no text in the file"),
    (["classify", "--model", "{cls}", "--input", "{tmp}/two.txt", "--pair-input", "{tmp}/bad.txt"],
     "--pair-input {tmp}/bad.txt: line 2 is not UTF-8"),
    (["classify", "--model", "{cls}", "--input", "{tmp}/two.txt", "--pair-input", "{tmp}/one.txt"],
     "--input has 2 lines but --pair-input has 1"),
    (["classify", "--model", "{pre}", "x"], "no fine-tuned 'classifier' weights"),
    (["classify", "--model", "{tag}", "x"], "holds a BertForTokenClassification"),
    (["classify", "--model", "{tmp}/none", "x"], "no such folder"),
    (["tag", "--model", "{tag}", "--input", "{tmp}/bad.txt"], "line 2 is not UTF-8"),
    (["tag", "--model", "{tag}", "--batch-size", "0", "x"], "--batch-size 0"),
    (["tag", "--model", "{pre}", "x"], "no fine-tuned 'classifier' weights"),
    (["qa", "--model", "{qa}", "--question", "q"], "give --question Q and --context C"),
    (["qa", "--model", "{qa}", "--input", "{tmp}/bad.jsonl"], "line 2: not valid JSON"),
    (["qa", "--model", "{qa}", "--input", "{tmp}/noctx.jsonl"], "line 1: 'context' is missing"),
    (["qa", "--model", "{qa}", "--input", "{tmp}/noctx.jsonl", "--question", "q"], "not both"),
    (["qa", "--model", "{pre}", "--question", "q", "--context", "c"], "no fine-tuned 'qa_outputs' weights"),
    (["qa", "--model", "{qa}", "--question", "q", "--context", "c", "--max-seq-length", "999"],
     "--max-seq-length 999"),
])
def test_cli_errors_exit_2_with_one_message(argv, message, cls_dir, tag_dir, qa_dir, pretrain_dir, tmp_path,
                                            capsys):
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe broken\n")
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "two.txt").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "one.txt").write_text("a\n", encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"question": "q", "context": "c"}\n{"question": \n', encoding="utf-8")
    (tmp_path / "noctx.jsonl").write_text('{"question": "q"}\n', encoding="utf-8")
    dirs = {"{cls}": cls_dir, "{tag}": tag_dir, "{qa}": qa_dir, "{pre}": pretrain_dir, "{tmp}": tmp_path}
    fill = lambda s: [s := s.replace(k, str(v)) for k, v in dirs.items()][-1]  # noqa: E731
    assert main(["bert", "predict", *map(fill, argv)]) == 2
    err = capsys.readouterr().err
    assert fill(message) in err
    assert err.count("bertgan: error:") == 1 and len(err.strip().splitlines()) == 1


def test_cli_dry_runs_load_nothing(tmp_path, capsys):
    missing = str(tmp_path / "not-yet-trained")  # --dry-run checks inputs only; the folder may come later
    assert main(["bert", "predict", "tag", "--model", missing, "--dry-run", "나는 시장에 가서", "x y"]) == 0
    assert "would tag 5 word(s) in 2 text(s)" in capsys.readouterr().out
    assert main(["bert", "predict", "qa", "--model", missing, "--dry-run", "--question", "q", "--context", "c"]) == 0
    assert "would answer 1 question(s)" in capsys.readouterr().out
    assert main(["bert", "predict", "classify", "--model", missing, "--dry-run", "--top-k", "2", "x"]) == 0
    assert "top 2" in capsys.readouterr().out
