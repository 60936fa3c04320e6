"""Export: packed integer weights reload to identical weights and accuracy; policy JSON; ONNX."""

import json

import pytest
import torch
from torch import nn

from eatnas.errors import EatnasError
from eatnas.quant.apply import quantize_model
from eatnas.quant.export import (export_onnx, export_quantized, load_quantized, pack_codes, read_policy_json,
                                 read_quantized, unpack_codes, write_policy_json)



def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 6, 3, groups=6),
                         nn.ReLU(), nn.Flatten(), nn.Linear(6 * 36, 5)).eval()


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8, 16])
def test_pack_roundtrip_and_size(bits):
    codes = torch.randint(0, 2**bits, (777,), generator=torch.Generator().manual_seed(bits))
    packed = pack_codes(codes, bits)
    assert packed.dtype == torch.uint8 and packed.numel() == -(-777 * bits // 8)
    assert torch.equal(unpack_codes(packed, bits, 777), codes)


@pytest.mark.parametrize("scheme", ["per_channel", "bucket256"])
def test_reload_gives_identical_weights_and_accuracy(tmp_path, scheme):
    m = _net()
    m[1].running_mean.uniform_(-0.1, 0.1)
    policy = {"0": 4, "3": 2, "6": 16}
    q = quantize_model(m, policy, scheme)
    path = export_quantized(tmp_path / "q.pt", q, policy, scheme, meta={"note": "test"})
    fresh = _net()
    fresh[0].weight.data.zero_()
    loaded, header = load_quantized(fresh, path)
    for k, v in q.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    x = torch.randn(200, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = q(x).argmax(1)
    assert torch.equal(loaded(x).argmax(1), y)  # identical predictions -> identical accuracy
    assert header["policy"] == policy and header["meta"] == {"note": "test"}
    raw = torch.load(path, weights_only=True)["tensors"]
    assert raw["q::3.weight::codes"].numel() == -(-2 * 54 // 8)  # 54 depthwise weights at 2 bits


def test_policy_json_roundtrip(tmp_path):
    m = _net()
    policy = {"0": 8, "3": 4, "6": 32}
    write_policy_json(tmp_path / "p.json", m, policy, "bucket256", {"arch": "b:8,4,32"})
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["layers"][1] == {"name": "3", "bits": 4, "shape": [6, 1, 3, 3], "scheme": "bucket256", "groups": 1}
    assert data["layers"][2]["scheme"] == "float"
    assert read_policy_json(tmp_path / "p.json") == (policy, "bucket256")


def test_bad_files_raise(tmp_path):
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(EatnasError, match="not a bit-policy file"):
        read_policy_json(tmp_path / "bad.json")
    with pytest.raises(EatnasError, match="does not exist"):
        read_quantized(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"xx")
    with pytest.raises(EatnasError, match="not a readable quantized model"):
        read_quantized(tmp_path / "junk.pt")


def test_load_into_wrong_architecture_raises(tmp_path):
    m = _net()
    path = export_quantized(tmp_path / "q.pt", m, {"0": 8, "3": 8, "6": 8})
    with pytest.raises(EatnasError, match="do not fit the model"):
        load_quantized(nn.Sequential(nn.Linear(2, 2)), path)


def test_onnx_matches_torch(tmp_path):
    q = quantize_model(_net(), {"0": 4, "3": 2, "6": 8})
    result = export_onnx(tmp_path / "m.onnx", q, (2, 1, 8, 8))
    assert result["max_abs_diff"] < 1e-4
    assert (tmp_path / "m.onnx").stat().st_size > 0
