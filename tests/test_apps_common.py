"""The application registry and what every app shares: the contract each module keeps, the CLI built from its
Config, the run folder, the README's commands."""

import dataclasses
import json
import shlex

import pytest
import torch
from conftest import ROOT

from bertgan.apps import APPS, SETTINGS, load
from bertgan.apps.common import mean_std, resolve, run_app, save_rows
from bertgan.cli import main
from bertgan.errors import UsageError


@pytest.mark.parametrize("name", list(APPS))
def test_each_app_keeps_the_contract(name):
    module = load(name)
    assert dataclasses.is_dataclass(module.Config)
    assert set(module.SETTINGS) == set(SETTINGS)
    assert module.DESCRIPTION.strip() and callable(module.validate) and callable(module.run)
    assert callable(module.format_result)
    fields = {f.name for f in dataclasses.fields(module.Config)}
    for setting, overrides in module.SETTINGS.items():
        assert set(overrides) <= fields, (setting, set(overrides) - fields)
        cfg = resolve(name, setting)  # validates
        for k, v in overrides.items():
            assert getattr(cfg, k) == v
    for f in dataclasses.fields(module.Config):  # every field can be a flag
        assert f.metadata.get("type") or type(f.default) in (int, float, str, bool), f.name


@pytest.mark.parametrize("name", list(APPS))
def test_each_app_dry_run_prints_the_resolved_settings(name, tmp_path, capsys):
    assert main(["apps", name, "--quick", "--dry-run", "--out", str(tmp_path / "r")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["app"] == name and printed["setting"] == "quick"
    assert printed == {"app": name, "setting": "quick", **dataclasses.asdict(resolve(name, "quick"))}
    assert not (tmp_path / "r").exists()


def test_flags_override_settings_and_unknown_names_fail():
    name = next(iter(APPS))
    field = next(f for f in dataclasses.fields(load(name).Config) if f.name == "seed")
    assert resolve(name, "quick", seed=7).seed == 7
    assert resolve(name, "quick", seed=None).seed == field.default  # None: not given
    with pytest.raises(UsageError, match="unknown setting"):
        resolve(name, "quick", nonsense=1)
    with pytest.raises(UsageError, match="unknown application"):
        resolve("teleport")
    with pytest.raises(UsageError, match="quick or full"):
        resolve(name, "medium")


def test_readme_app_commands_parse(capsys):
    lines = [line.split("#")[0].strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("bertgan apps ")]
    assert {shlex.split(line)[2] for line in lines} == set(APPS), "the README shows every app"
    for line in lines:
        assert main(shlex.split(line)[1:] + ["--dry-run"]) == 0, line
        capsys.readouterr()


def test_run_app_writes_config_first_and_result_last(tmp_path, monkeypatch):
    name = next(iter(APPS))
    module = load(name)
    seen = {}

    def fake_run(cfg, out, *, data_dir, progress, log):
        seen["config"] = json.loads((out / "config.json").read_text())
        seen["result_before"] = (out / "result.json").exists()
        return {"figure": 1.5}

    (tmp_path / "result.json").write_text("{}")  # a stale result from an earlier run is removed first
    monkeypatch.setattr(module, "run", fake_run)
    result = run_app(name, resolve(name, "quick"), tmp_path, setting="quick")
    assert seen["config"]["app"] == name and seen["config"]["setting"] == "quick"
    assert seen["result_before"] is False
    assert result["figure"] == 1.5 and result["app"] == name and result["seconds"] >= 0
    assert json.loads((tmp_path / "result.json").read_text()) == result


def test_run_app_refuses_a_file_as_out(tmp_path):
    name = next(iter(APPS))
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        run_app(name, resolve(name, "quick"), f)


def test_mean_std_and_rows_picture(tmp_path):
    r = mean_std([1.0, 2.0, 3.0])
    assert r["mean"] == 2.0 and r["std"] == pytest.approx(1.0) and r["values"] == [1.0, 2.0, 3.0]
    assert mean_std([4.0])["std"] == 0.0
    rows = {"input": torch.rand(5, 1, 7, 7) * 2 - 1, "output": torch.zeros(5, 1, 28, 28),
            "target": torch.full((5, 1, 28, 28), 255, dtype=torch.uint8)}
    path = save_rows(tmp_path / "rows.png", rows, title="x")
    assert path.stat().st_size > 0 and not list(tmp_path.glob(".*.tmp"))
