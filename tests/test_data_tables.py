import json
from collections import Counter

import pytest

from bertgan.data.tables import LabelMap, read_table, read_utf8
from bertgan.errors import UsageError


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_is_unquoted_like_glue(tmp_path):
    p = _write(tmp_path / "train.tsv", 'sentence\tlabel\nit \'s a " lone quote . \t1\n\n"quoted" stays\t0\n')
    rows = read_table(p, ["sentence", "label"])
    assert rows == [{"sentence": 'it \'s a " lone quote . ', "label": "1"},
                    {"sentence": '"quoted" stays', "label": "0"}]
    assert [r.where for r in rows] == [f"{p}:2", f"{p}:4"]
    assert read_table(p, ["label"]) == [{"label": "1"}, {"label": "0"}]


def test_csv_quotes_commas_and_line_breaks(tmp_path):
    p = _write(tmp_path / "d.csv", '\ufeffid,text,label\n1,"a, b ""c""\nsecond line",pos\n2,plain,neg\n')
    rows = read_table(p, ["text", "label"])
    assert rows == [{"text": 'a, b "c"\nsecond line', "label": "pos"}, {"text": "plain", "label": "neg"}]
    assert [r.where for r in rows] == [f"{p}:2", f"{p}:4"]


def test_jsonl_and_json_lines(tmp_path):
    lines = [{"premise": "전제", "label": 1, "extra": [1]}, {"premise": "b", "label": 0.5},
             {"premise": "c", "label": True}]
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines[:2]) + "\n\n" + json.dumps(lines[2]) + "\n"
    for name in ("d.jsonl", "d.json"):
        p = _write(tmp_path / name, text)
        rows = read_table(p, ["premise", "label"])
        assert rows == [{"premise": "전제", "label": "1"}, {"premise": "b", "label": "0.5"},
                        {"premise": "c", "label": "true"}]
        assert [r.where for r in rows] == [f"{p}:1", f"{p}:2", f"{p}:4"]


def test_json_array_rows_know_their_lines(tmp_path):
    data = [{"premise": "p1", "hypothesis": "h1", "gold_label": "neutral"},
            {"premise": "p2", "hypothesis": "h2", "gold_label": "entailment"}]
    p = _write(tmp_path / "nli.json", json.dumps(data, indent=4) + "\n")
    rows = read_table(p, ["premise", "gold_label"])
    assert rows == [{"premise": "p1", "gold_label": "neutral"}, {"premise": "p2", "gold_label": "entailment"}]
    assert [r.where for r in rows] == [f"{p}:2", f"{p}:7"]
    assert read_table(_write(tmp_path / "one.json", '[{"a": "x"}]'), ["a"]) == [{"a": "x"}]


def test_format_override_and_unknown_extension(tmp_path):
    p = _write(tmp_path / "data.txt", "text\tlabel\nhi\t1\n")
    assert read_table(p, ["text"], fmt="tsv") == [{"text": "hi"}]
    assert read_table(p, ["text"]) == [{"text": "hi"}]  # a .txt with a tab in its header line: TSV (NSMC)
    q = _write(tmp_path / "data.dat", "text,label\nhi,1\n")
    with pytest.raises(UsageError, match=r"data\.dat: cannot tell the format .*\.tsv, \.csv, \.jsonl or \.json"):
        read_table(q, ["text"])
    with pytest.raises(UsageError, match=r"data\.txt: unknown table format 'xml'"):
        read_table(p, ["text"], fmt="xml")


@pytest.mark.parametrize("name,content,message", [
    ("e.tsv", "", r"e\.tsv: no rows \(the file is empty\)"),
    ("e.tsv", "\n\n", r"e\.tsv: no rows \(the file is empty\)"),
    ("e.csv", "text,label\n", r"e\.csv: no rows after the header"),
    ("e.jsonl", "\n", r"e\.jsonl: no rows \(the file is empty\)"),
    ("e.json", "[ ]", r"e\.json: no rows"),
    ("w.tsv", "sentence\tlabel\ngood\t1\nhas\ta tab\t0\n", r"w\.tsv:3: 3 fields, but the header has 2"),
    ("w.csv", "text,label\na,b,c\n", r"w\.csv:2: 3 fields, but the header has 2 .*quote fields"),
    ("b.jsonl", '{"text": "a"}\n{oops\n', r"b\.jsonl:2: not valid JSON"),
    ("b.json", '[\n  {"text": "a"},\n  {"text": }\n]', r"b\.json:3: not valid JSON"),
    ("b.json", '[\n  {"text": "a"}\n  {"text": "b"}\n]', r"b\.json:3: not valid JSON \(Expecting ',' delimiter"),
    ("b.json", '[{"text": "a"}] x', r"b\.json:1: not valid JSON \(Extra data"),
    ("n.jsonl", '{"text": null}\n', r"n\.jsonl:1: field 'text' is null, not a string or number"),
    ("n.jsonl", '["text"]\n', r"n\.jsonl:1: expected a JSON object, found list"),
])
def test_bad_tables(tmp_path, name, content, message):
    p = _write(tmp_path / name, content)
    with pytest.raises(UsageError, match=message):
        read_table(p, ["text"] if "sentence" not in content else ["sentence"])


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match=r"nope\.tsv: no such file"):
        read_table(tmp_path / "nope.tsv", ["text"])


def test_missing_column_names_file_columns_and_flag(tmp_path):
    p = _write(tmp_path / "train.tsv", "sentence\tlabel\nhi\t1\n")
    with pytest.raises(UsageError) as e:
        read_table(p, ["text", "label"], flag_names={"text": "--text-col", "label": "--label-col"})
    assert str(e.value) == (f"{p}: no column 'text' (choose the column with --text-col); the file has columns: "
                            "sentence, label")
    j = _write(tmp_path / "d.jsonl", '{"sentence": "a", "label": 1}\n{"sentence": "b"}\n')
    with pytest.raises(UsageError, match=r"d\.jsonl:2: no field 'label' \(choose the column with --label-col\); "
                                         r"this record has fields: sentence"):
        read_table(j, ["sentence", "label"], flag_names={"label": "--label-col"})


def test_non_utf8_names_line_and_byte_offset(tmp_path):
    p = tmp_path / "latin.tsv"
    p.write_bytes(b"sentence\tlabel\nok\t1\ncaf\xe9\t0\n")
    with pytest.raises(UsageError, match=r"latin\.tsv:3: not UTF-8 \(byte 0xe9 at byte offset 23"):
        read_table(p, ["sentence"])
    with pytest.raises(UsageError, match=r"latin\.tsv:3: not UTF-8"):
        read_utf8(p)


def test_label_map_order_and_round_trip():
    assert LabelMap.from_labels(["10", "2", "1", "2", "-1"]).labels == ("-1", "1", "2", "10")
    nli = LabelMap.from_labels(["neutral", "entailment", "contradiction", "neutral"])
    assert nli.labels == ("contradiction", "entailment", "neutral") and len(nli) == 3
    assert LabelMap.from_labels(["1", "b", "10", "2"]).labels == ("1", "10", "2", "b")
    assert [nli.encode(x) for x in ("neutral", "contradiction")] == [2, 0]
    assert nli.decode(1) == "entailment"
    assert LabelMap.from_json(json.loads(json.dumps(nli.to_json()))) == nli
    assert nli.to_json() == {"labels": ["contradiction", "entailment", "neutral"]}


def test_label_map_errors():
    m = LabelMap(("0", "1"))
    with pytest.raises(UsageError, match=r"^dev\.tsv:7: unknown label '2'; the known labels are: 0, 1$"):
        m.encode("2", where="dev.tsv:7")
    with pytest.raises(UsageError, match=r"^unknown label 'x'"):
        m.encode("x")
    with pytest.raises(ValueError, match="class id 2 out of range 0..1"):
        m.decode(2)
    with pytest.raises(UsageError, match="duplicates"):
        LabelMap(("a", "a"))
    with pytest.raises(UsageError, match="empty"):
        LabelMap.from_labels([])
    with pytest.raises(UsageError, match="label map must be"):
        LabelMap.from_json({"labels": "ab"})


def test_real_sst2_dev(shared_file):
    rows = read_table(shared_file("sst-2/dev.tsv"), ["sentence", "label"])
    assert len(rows) == 872
    assert Counter(r["label"] for r in rows) == {"1": 444, "0": 428}
    assert rows[0] == {"sentence": "it 's a charming and often affecting journey . ", "label": "1"}
    assert LabelMap.from_labels(r["label"] for r in rows).labels == ("0", "1")
    with pytest.raises(UsageError, match=r"dev\.tsv: no column 'text' \(choose the column with --text-col\); the file "
                                         "has columns: sentence, label"):
        read_table(shared_file("sst-2/dev.tsv"), ["text"], {"text": "--text-col"})


def test_real_klue_nli_dev(shared_file):
    path = shared_file("klue/klue-nli-v1.1_dev.json")
    rows = read_table(path, ["premise", "hypothesis", "gold_label"])
    assert len(rows) == 3000
    assert Counter(r["gold_label"] for r in rows) == {"contradiction": 1000, "neutral": 1000, "entailment": 1000}
    assert rows[0]["hypothesis"] == "어떤 방에서도 흡연은 금지됩니다."
    assert rows[1].where == f"{path}:14"
    labels = LabelMap.from_labels(r["gold_label"] for r in rows)
    assert [labels.encode(r["gold_label"], r.where) for r in rows[:2]] == [0, 0]


def test_nsmc_txt_is_read_as_tsv(shared_file):
    from bertgan.data.tables import read_table

    rows = read_table(shared_file("nsmc-raw-derived/ratings_test_10k.txt"), ["document", "label"])
    assert len(rows) == 10_000 and {r["label"] for r in rows} == {"0", "1"}
