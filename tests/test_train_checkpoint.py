import pytest
import torch

from bertgan.errors import UsageError
from bertgan.train import checkpoint as ck


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))


def test_roundtrip_model_optimizer_rng(tmp_path):
    m = _model()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m(torch.randn(8, 3)).sum().backward()
    opt.step()
    torch.manual_seed(42)
    path = tmp_path / "c.safetensors"
    ck.save_checkpoint(path, {"m": m}, {"opt": opt}, meta={"step": 7})
    expected = torch.rand(3)

    m2 = _model()
    opt2 = torch.optim.Adam(m2.parameters(), lr=5.0)
    c = ck.load_checkpoint(path)
    ck.restore_module(m2, c, "m")
    ck.restore_optimizer(opt2, c, "opt")
    ck.restore_rng(c)
    assert c.meta == {"step": 7}
    assert torch.equal(torch.rand(3), expected)
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert opt2.param_groups[0]["lr"] == 1e-3
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[i]["exp_avg"], s2[i]["exp_avg"]) for i in s1)


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    m = _model()
    path = tmp_path / "c.safetensors"
    ck.save_checkpoint(path, {"m": m}, meta={"step": 1})
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_file", boom)
    with pytest.raises(OSError):
        ck.save_checkpoint(path, {"m": m}, meta={"step": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


def test_bad_checkpoints(tmp_path):
    with pytest.raises(UsageError, match="no checkpoint"):
        ck.load_checkpoint(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(UsageError, match="corrupt or truncated"):
        ck.load_checkpoint(bad)
    path = tmp_path / "c.safetensors"
    ck.save_checkpoint(path, {"m": _model()})
    other = torch.nn.Linear(3, 5)
    with pytest.raises(UsageError, match="does not match"):
        ck.restore_module(other, ck.load_checkpoint(path), "m")
