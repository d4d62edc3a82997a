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

    monkeypatch.setattr("safetensors.torch.save_file", boom)
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


def _flip_payload_byte(path, offset=5):
    """Flip one bit inside the tensor bytes (after the 8-byte length and the JSON header) of a safetensors file."""
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    data[start + offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_caught_and_foreign_files_still_load(tmp_path):
    from safetensors.torch import save_file

    from bertgan.bert.config import BertConfig
    from bertgan.bert.hub import from_pretrained, save_pretrained
    from bertgan.bert.model import BertModel

    path = tmp_path / "c.safetensors"
    ck.save_checkpoint(path, {"m": _model()}, meta={"step": 1})
    _flip_payload_byte(path)
    with pytest.raises(UsageError, match=r"c\.safetensors: its tensors do not match the SHA-256"):
        ck.load_checkpoint(path)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    save_pretrained(BertModel(cfg), tmp_path / "m")
    from_pretrained(tmp_path / "m")  # intact: loads
    _flip_payload_byte(tmp_path / "m" / "model.safetensors", offset=1000)
    with pytest.raises(UsageError, match=r"model\.safetensors: its tensors do not match the SHA-256"):
        from_pretrained(tmp_path / "m")
    # written by another tool: no digest to check, loads as it is
    state = {k: v.contiguous() for k, v in BertModel(cfg).state_dict().items()}
    save_file(state, str(tmp_path / "m" / "model.safetensors"), metadata={"format": "pt"})
    assert from_pretrained(tmp_path / "m").load_report.missing == []


def test_non_finite_weights_are_never_written_nor_loaded(tmp_path):
    from safetensors.torch import save_file

    from bertgan.bert.config import BertConfig
    from bertgan.bert.hub import from_pretrained, save_pretrained
    from bertgan.bert.model import BertModel
    from bertgan.errors import NonFiniteError

    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = BertModel(cfg)
    save_pretrained(model, tmp_path / "good")
    with torch.no_grad():
        model.encoder.layer[0].output.dense.weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="output.dense.weight holds 1 non-finite"):
        save_pretrained(model, tmp_path / "good")  # a diverged model never replaces a good one
    assert from_pretrained(tmp_path / "good").load_report.missing == []
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "good" / "model.safetensors"))
    with pytest.raises(UsageError, match="non-finite value"):
        from_pretrained(tmp_path / "good")  # also when another tool wrote it
    m = _model()
    with torch.no_grad():
        m[0].weight.fill_(float("inf"))
    path = tmp_path / "c.safetensors"
    ck.save_checkpoint(path, {"m": _model()}, meta={"step": 1})
    before = path.read_bytes()
    with pytest.raises(NonFiniteError, match="not written; the file there before"):
        ck.save_checkpoint(path, {"m": m}, meta={"step": 2})
    assert path.read_bytes() == before  # the finite checkpoint stays
    save_file({"m.0.weight": m[0].weight.detach().contiguous()}, str(path), metadata={"bertgan": "{}"})
    with pytest.raises(UsageError, match="non-finite value"):
        ck.load_checkpoint(path)  # however it got there, a diverged checkpoint is never resumed from or sampled


@pytest.mark.parametrize("meta, message", [("{not json", "metadata is damaged"),
                                            ('{"meta": 3, "optimizers": {}}', "metadata is damaged"),
                                            ('{"optimizers": {}}', "metadata is damaged")])
def test_damaged_checkpoint_metadata(tmp_path, meta, message):
    from bertgan.io import save_tensors

    save_tensors(tmp_path / "c.safetensors", {"m.weight": torch.zeros(2)}, {"bertgan": meta})
    with pytest.raises(UsageError, match=message):
        ck.load_checkpoint(tmp_path / "c.safetensors")
