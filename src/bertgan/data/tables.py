"""Labelled examples for fine-tuning (sentence and sentence-pair classification) from TSV, CSV or JSON files.

Formats, chosen by the file's extension (or ``fmt``):
  tsv    GLUE's layout (e.g. SST-2 ``train.tsv``: a header row ``sentence<TAB>label``, one example per line). GLUE TSVs
         are *unquoted*: a field may hold a lone ``"`` — so TSV is read with ``csv.QUOTE_NONE``, one row per line.
  csv    RFC 4180 CSV with a header row; quoted fields may hold commas, quotes and line breaks.
  jsonl  one JSON object per line (``.jsonl``; also ``.json`` whose first character is not ``[``).
  json   a top-level JSON array of objects, as KLUE ships its dev sets (``klue-nli-v1.1_dev.json``: premise,
         hypothesis, gold_label, ...).
``read_table`` returns only the requested columns, as strings, so that every format gives the same rows; each row
knows where it came from (``Row.where``, "file:line") for error messages about its values. ``LabelMap`` turns the
label strings into the class ids a classifier needs, in an order that is stable across runs and files.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bertgan.errors import UsageError

FORMATS = ("tsv", "csv", "jsonl", "json")
_SUFFIX = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "json"}


class Row(dict):
    """One example: column name → value (a plain dict), plus ``where``, "file:line" of its line (a JSON array's
    element: the line it starts on)."""

    where: str = ""

    def __init__(self, values: dict[str, str], where: str) -> None:
        super().__init__(values)
        self.where = where


def read_utf8(path: str | Path) -> str:
    """The whole file as text. A byte that is not UTF-8 is named by line and byte offset; a leading BOM is dropped."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UsageError(f"{path}:{line}: not UTF-8 (byte {data[e.start]:#04x} at byte offset {e.start}, "
                         f"{e.reason}); convert the file to UTF-8") from e
    return text.removeprefix("\ufeff")


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise UsageError(f"{path}: unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    found = _SUFFIX.get(path.suffix.lower())
    if found is None and path.suffix.lower() == ".txt" and path.is_file():
        with open(path, "rb") as f:  # NSMC's ratings_*.txt: a tab-separated table under a .txt name
            if b"\t" in f.readline():
                found = "tsv"
    if found is None:
        raise UsageError(f"{path}: cannot tell the format from the extension {path.suffix!r}; name the file "
                         ".tsv, .csv, .jsonl or .json")
    return found


def _flag(column: str, flag_names: dict[str, str] | None) -> str:
    flag = (flag_names or {}).get(column)
    return f" (choose the column with {flag})" if flag else ""


def _check_header(path: Path, header: list[str], columns: list[str], flag_names: dict[str, str] | None) -> None:
    for col in columns:
        if col not in header:
            raise UsageError(f"{path}: no column {col!r}{_flag(col, flag_names)}; the file has columns: "
                             f"{', '.join(header)}")


def _scalar(value: object) -> str | None:
    """A JSON value as the string a CSV would hold: strings as they are, numbers and booleans in JSON spelling."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _delimited(path: Path, text: str, fmt: str, columns: list[str], flag_names: dict[str, str] | None) -> list[Row]:
    if fmt == "tsv":
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[Row] = []
    header: list[str] | None = None
    start = 1  # physical line where the next record begins (a quoted CSV field may span lines)
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record or record == [""]:
                continue  # blank line
            if header is None:
                header = [h.strip() for h in record]
                _check_header(path, header, columns, flag_names)
                index = [header.index(c) for c in columns]
                continue
            if len(record) != len(header):
                raise UsageError(f"{path}:{line}: {len(record)} fields, but the header has {len(header)} "
                                 f"({', '.join(header)})" + ("; TSV fields are split at every tab" if fmt == "tsv"
                                                             else "; quote fields that hold commas"))
            rows.append(Row({c: record[i] for c, i in zip(columns, index)}, f"{path}:{line}"))
    except csv.Error as e:
        raise UsageError(f"{path}:{reader.line_num}: not valid CSV ({e})") from e
    if header is None:
        raise UsageError(f"{path}: no rows (the file is empty)")
    return rows


def _json_row(path: Path, obj: object, where: str, columns: list[str], flag_names: dict[str, str] | None) -> Row:
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected a JSON object, found {type(obj).__name__}")
    values = {}
    for col in columns:
        if col not in obj:
            raise UsageError(f"{where}: no field {col!r}{_flag(col, flag_names)}; this record has fields: "
                             f"{', '.join(map(str, obj))}")
        value = _scalar(obj[col])
        if value is None:
            raise UsageError(f"{where}: field {col!r} is {json.dumps(obj[col])[:40]}, not a string or number")
        values[col] = value
    return Row(values, where)


def _json(path: Path, text: str, columns: list[str], flag_names: dict[str, str] | None) -> list[Row]:
    """A top-level array, decoded one element at a time so that each row knows the line it starts on."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"\s*")
    rows: list[Row] = []
    pos = ws.match(text).end() + 1  # after the "["
    line, counted = 1, 0  # line number of text[counted]
    try:
        pos = ws.match(text, pos).end()
        if text.startswith("]", pos):
            pos += 1
        else:
            while True:
                line += text.count("\n", counted, pos)
                counted = pos
                obj, pos = decoder.raw_decode(text, pos)
                rows.append(_json_row(path, obj, f"{path}:{line}", columns, flag_names))
                pos = ws.match(text, pos).end()
                if text.startswith(",", pos):
                    pos = ws.match(text, pos + 1).end()
                elif text.startswith("]", pos):
                    pos += 1
                    break
                else:
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        if ws.match(text, pos).end() != len(text):
            raise json.JSONDecodeError("Extra data", text, ws.match(text, pos).end())
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from e
    return rows


def _jsonl(path: Path, text: str, columns: list[str], flag_names: dict[str, str] | None) -> list[Row]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path}:{n}: not valid JSON ({e.msg}, column {e.colno})") from e
        rows.append(_json_row(path, obj, f"{path}:{n}", columns, flag_names))
    return rows


def read_table(path: str | Path, columns: list[str], flag_names: dict[str, str] | None = None,
               fmt: str | None = None) -> list[Row]:
    """The requested ``columns`` of every example in a TSV/CSV/JSON(L) file, as strings (see the module docstring).

    flag_names maps a column to the CLI flag that chose it (``{"sentence": "--text-col"}``) so that a missing column's
    message says how to pick another. Raises UsageError naming the file (and line) for a missing or empty file, a
    missing column, a row with the wrong number of fields, invalid JSON and bytes that are not UTF-8."""
    path = Path(path)
    fmt = _format_of(path, fmt)
    text = read_utf8(path)
    if fmt in ("tsv", "csv"):
        rows = _delimited(path, text, fmt, columns, flag_names)
    elif fmt == "json" and text.lstrip().startswith("["):
        rows = _json(path, text, columns, flag_names)
    else:
        rows = _jsonl(path, text, columns, flag_names)
    if not rows:
        empty = "after the header" if fmt in ("tsv", "csv") else "(the file is empty)"
        raise UsageError(f"{path}: no rows {empty}")
    return rows


_INT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class LabelMap:
    """Class labels (strings) ↔ ids 0..n-1. ``labels[i]`` is the label of id i."""

    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(str(x) for x in self.labels))
        if len(set(self.labels)) != len(self.labels):
            raise UsageError(f"label list has duplicates: {list(self.labels)}")
        if not self.labels:
            raise UsageError("label list is empty")

    @classmethod
    def from_labels(cls, values: Iterable[str]) -> LabelMap:
        """The distinct labels in a stable order: numerically if all look like integers (GLUE's "0", "1"; so "10"
        comes after "2"), else alphabetically (KLUE NLI: contradiction, entailment, neutral)."""
        distinct = set(values)
        if all(_INT.fullmatch(v) for v in distinct):
            return cls(tuple(sorted(distinct, key=int)))
        return cls(tuple(sorted(distinct)))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, label: str, where: str = "") -> int:
        """The id of ``label``; an unknown label raises UsageError naming ``where`` (e.g. ``Row.where``)."""
        index = self.__dict__.get("_index")
        if index is None:  # built once, on first use (the dataclass is frozen)
            index = {x: i for i, x in enumerate(self.labels)}
            object.__setattr__(self, "_index", index)
        if label not in index:
            prefix = f"{where}: " if where else ""
            raise UsageError(f"{prefix}unknown label {label!r}; the known labels are: {', '.join(self.labels)}")
        return index[label]

    def decode(self, id: int) -> str:
        """The label of class ``id``."""
        if not 0 <= id < len(self.labels):
            raise ValueError(f"class id {id} out of range 0..{len(self.labels) - 1}")
        return self.labels[id]

    def to_json(self) -> dict[str, list[str]]:
        """A JSON-ready dict, ``{"labels": [...]}``, to save beside a fine-tuned model."""
        return {"labels": list(self.labels)}

    @classmethod
    def from_json(cls, obj: dict[str, list[str]]) -> LabelMap:
        """The inverse of ``to_json``."""
        labels = obj.get("labels") if isinstance(obj, dict) else None
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise UsageError(f"label map must be {{\"labels\": [strings]}}, got {str(obj)[:80]}")
        return cls(tuple(labels))
