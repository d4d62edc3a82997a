import json

import pytest

from bertgan.data.text import read_documents, split_sentences
from bertgan.errors import UsageError


def test_split_english_with_abbreviations_initials_and_decimals():
    text = 'Dr. Kim met J. Smith at 3.14 p.m. in the U.S. office. "Really?" she asked! Then she left.\nNew line'
    assert split_sentences(text) == ['Dr. Kim met J. Smith at 3.14 p.m. in the U.S. office.', '"Really?" she asked!',
                                     "Then she left.", "New line"]


def test_split_korean():
    text = "나는 슈퍼에 가서 사과와 바나나를 샀다. 정말 맛있었어요! 너도 먹을래? 그래\n다음 줄입니다."
    assert split_sentences(text) == ["나는 슈퍼에 가서 사과와 바나나를 샀다.", "정말 맛있었어요!", "너도 먹을래?",
                                     "그래", "다음 줄입니다."]


def test_google_layout_documents(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("First sentence.\nSecond one. Third in the same line.\n\n\nDoc two only.\n\n", encoding="utf-8")
    assert list(read_documents(p)) == [["First sentence.", "Second one.", "Third in the same line."],
                                       ["Doc two only."]]


def test_jsonl_documents(tmp_path):
    p = tmp_path / "c.jsonl"
    texts = ["Alpha one. Beta two.", "한 문장. 두 문장."]
    p.write_text("\n".join(json.dumps({"body": t}) for t in texts) + "\n", encoding="utf-8")
    assert list(read_documents(p, text_field="body")) == [["Alpha one.", "Beta two."], ["한 문장.", "두 문장."]]
    with pytest.raises(UsageError, match=r"c.jsonl: line 1: no string field 'text'"):
        list(read_documents(p))


def test_real_korean_corpus(shared_file):
    docs = list(read_documents(shared_file("konlpy-corpus/kolaw/constitution.txt")))
    sentences = [s for d in docs for s in d]
    assert len(sentences) > 300 and all(s.strip() == s and s for s in sentences)


@pytest.mark.parametrize("content,message", [
    (b"", "no text found"),
    (b"\n \n", "no text found"),
    (b"good line\n\xff\xfe bad\n", "line 2, byte offset 10: byte 0xff is not UTF-8"),
])
def test_bad_corpora(tmp_path, content, message):
    p = tmp_path / "c.txt"
    p.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        list(read_documents(p))
    with pytest.raises(UsageError, match="no such file"):
        list(read_documents(tmp_path / "missing.txt"))
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "ok."}\n{oops\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"b.jsonl: line 2: not valid JSON"):
        list(read_documents(bad))


def test_gzip_corpus_streams_like_plain_text_and_folders_expand(tmp_path):
    import gzip

    from bertgan.data.text import corpus_files

    body = "첫 문장이다. 두 번째 문장.\n\n다른 문서.\n"
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text(body, encoding="utf-8")
    with gzip.open(tmp_path / "sub" / "b.txt.gz", "wt", encoding="utf-8") as f:
        f.write(body)
    (tmp_path / "notes.md").write_text("not a corpus", encoding="utf-8")
    assert list(read_documents(tmp_path / "sub" / "b.txt.gz")) == list(read_documents(tmp_path / "a.txt"))
    assert corpus_files([tmp_path]) == [tmp_path / "a.txt", tmp_path / "sub" / "b.txt.gz"]  # sorted, .md left out
    with gzip.open(tmp_path / "c.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"text": "JSON 문서. 두 문장."}) + "\n")
    assert list(read_documents(tmp_path / "c.jsonl.gz")) == [["JSON 문서.", "두 문장."]]  # layout by suffix, .gz aside
    # a cut gzip stream is one error naming the file, not an EOFError traceback
    data = (tmp_path / "sub" / "b.txt.gz").read_bytes()
    (tmp_path / "cut.txt.gz").write_bytes(data[:len(data) // 2])
    with pytest.raises(UsageError, match=r"cut\.txt\.gz: not a readable gzip file"):
        list(read_documents(tmp_path / "cut.txt.gz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no .txt, .txt.gz"):
        corpus_files([tmp_path / "empty"])
