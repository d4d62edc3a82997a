"""The README is executable: its two set-up commands, its library example, and the demo tour (quick mode)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from bertgan.cli import main

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_exactly_two_setup_commands():
    first = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first.splitlines() if line.strip()]
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job.startswith("pip install torch==2.13.0 &&") and "bertgan demo" in main_job
    assert tests.startswith("pip install torch==2.13.0 &&") and "pytest" in tests
    assert README.index("```bash") < README.index("## ")  # at the top, before any section


def test_ci_runs_both_readme_setup_commands_in_a_fresh_venv():
    """.ci/run extracts the README's two set-up commands and runs them, verbatim, in a new virtual environment."""
    script = ROOT / ".ci" / "run"
    extract = script.read_text().split("setup=", 1)[1].splitlines()[0]
    out = subprocess.run(["bash", "-c", f"setup={extract}; printf '%s' \"$setup\""], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    readme = [line.split("#")[0].strip() for line in _blocks("bash")[0].splitlines() if line.strip()]
    assert [line.strip() for line in out.splitlines()] == readme
    text = script.read_text()
    assert 'python3 -m venv "$venv"' in text and "--system-site-packages" not in text
    assert text.index('eval "$main_cmd"') < text.index('eval "$test_cmd"') < text.index("ruff check")
    assert "export CI=true" in text and "../shared/data" in text


def test_readme_library_example_runs(tmp_path, monkeypatch):
    (code,) = _blocks("python")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "runs" / "digits-mlp" / "report.html").is_file()


@pytest.mark.slow
def test_demo_quick(tmp_path, capsys, monkeypatch):
    # a relative --out, as the README runs it (the default ./bertgan-demo): every path stays relative to the caller
    monkeypatch.chdir(tmp_path)
    out = Path("demo")
    assert main(["demo", "--quick", "--no-progress", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    for name in ("samples.png", "interpolation.png", "curves.png", "report.html", "real.png"):
        assert (out / "gan" / name).is_file(), name
        assert str(out / "gan") in printed
    for name in ("corpus.txt", "tokenizer/vocab.txt", "run/curves.png", "run/final/model.safetensors",
                 "run/final/vocab.txt"):
        assert (out / "bert" / name).is_file(), name
    assert "The [MASK] statement is used to leave a loop." in printed and "held-out MLM accuracy" in printed
    # a second run replaces the first instead of refusing
    assert main(["demo", "--quick", "--no-progress", "--out", str(out), "--device", "cpu"]) == 0


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "bertgan", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("bertgan ")


def test_import_is_light():
    code = "import sys, bertgan; print('torch' in sys.modules, 'transformers' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split() == ["False", "False"]


def test_relative_links_in_readme_and_docs_exist():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path = target.split("#", 1)[0]
            if not path or "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, broken


def test_every_test_named_in_the_guarantees_exists():
    """docs/guarantees.md backs each promise with a named test: the names must be real tests."""
    doc = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    named = re.findall(r"`(test_[a-z_]+\.py)::(test_[a-z0-9_]+)`", doc)
    assert len(named) >= 15
    missing = [f"{f}::{t}" for f, t in named if f"def {t}(" not in (ROOT / "tests" / f).read_text(encoding="utf-8")]
    assert not missing, missing


def _readme_commands() -> list[str]:
    """Every `bertgan …` command of the README's bash blocks after the set-up block (continuations joined, comments
    and `[optional]` placeholders dropped, `a && b` split)."""
    out = []
    for block in _blocks("bash")[1:]:
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\[[^\]]*\]", "", line.split(" #")[0]).strip()
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("bertgan "):
                    out.append(part)
    return out


def test_every_readme_command_parses():
    """The README's commands are the CLI's: each one parses with the flags and choices the parser has now."""
    import shlex

    from bertgan.cli import build_parser

    commands = _readme_commands()
    assert len(commands) >= 25
    parser = build_parser()
    for command in commands:
        argv = shlex.split(command)[1:]
        try:
            parser.parse_args(argv)
        except SystemExit as e:  # argparse exits on an unknown flag or choice
            raise AssertionError(f"README command no longer parses: {command}") from e


def test_readme_commands_that_state_their_output_print_it(capsys):
    """A README command whose comment states what it prints ('# → …') prints it: each stated word, in order."""
    import shlex

    stated = []
    for block in _blocks("bash")[1:]:
        for line in block.splitlines():
            if " # → " in line and line.startswith("bertgan "):
                command, said = line.split(" # → ", 1)
                stated.append((command.strip(), said.split()))
    assert stated
    for command, said in stated:
        assert main(shlex.split(command)[1:]) == 0, command
        printed, at = capsys.readouterr().out, 0
        for word in said:
            found = printed.find(word, at)
            assert found >= 0, f"README says {command!r} prints {' '.join(said)!r}; {word!r} is missing:\n{printed}"
            at = found + len(word)
