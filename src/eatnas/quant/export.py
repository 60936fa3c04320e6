"""Export of a quantized model: bit policy JSON, integer weights at their bit-width, and ONNX.

The ``.pt`` file holds, per quantized layer, its codes bit-packed into ``uint8`` (exactly
``ceil(bits * numel / 8)`` bytes) plus float32 per-group ``lo`` and ``scale``; every other state entry
(biases, BN, float layers) is stored as is. :func:`load_quantized` rebuilds exactly the dequantized
weights of :func:`eatnas.quant.apply.quantize_model`, hence identical outputs and accuracy.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from eatnas.quant.errors import QuantError
from eatnas.quant.policy import validate_policy
from eatnas.quant.quantizers import FLOAT_BITS, QuantizedTensor, check_scheme, num_groups, quantize_tensor
from eatnas.utils.io import atomic_write, write_json_atomic

log = logging.getLogger(__name__)

FORMAT = "eatnas-quantized-v1"


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack non-negative integer codes (< 2^bits, bits <= 16) into a ``uint8`` tensor, ``bits`` each."""
    arr = codes.reshape(-1).cpu().numpy().astype(">u2")
    bitmat = np.unpackbits(arr.view(np.uint8).reshape(-1, 2), axis=1)[:, 16 - bits:]
    return torch.from_numpy(np.packbits(bitmat.reshape(-1)).copy())


def unpack_codes(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_codes` for ``count`` codes."""
    flat = np.unpackbits(packed.cpu().numpy().astype(np.uint8))[: count * bits].reshape(count, bits)
    full = np.zeros((count, 16), dtype=np.uint8)
    full[:, 16 - bits:] = flat
    return torch.from_numpy(np.packbits(full, axis=1).reshape(-1).view(">u2").astype(np.int64))


def policy_entries(model: nn.Module, policy: Mapping[str, int], scheme: str) -> list[dict]:
    """One JSON entry per quantizable layer: name, bits, shape, scheme (``float`` for 32 bits), groups."""
    mods = dict(model.named_modules())
    out = []
    for name, bits in policy.items():
        shape = list(mods[name].weight.shape)
        q = bits != FLOAT_BITS
        out.append({"name": name, "bits": bits, "shape": shape, "scheme": scheme if q else "float",
                    "groups": num_groups(tuple(shape), scheme) if q else 0})
    return out


def write_policy_json(path: str | Path, model: nn.Module, policy: Mapping[str, int], scheme: str,
                      extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``{"scheme", "layers": [...], **extra}``."""
    check_scheme(scheme)
    policy = validate_policy(model, policy)
    return write_json_atomic(path, {"scheme": scheme, "layers": policy_entries(model, policy, scheme), **(extra or {})})


def read_policy_json(path: str | Path) -> tuple[dict[str, int], str]:
    """Read a policy file written by :func:`write_policy_json` -> ``(policy, scheme)``."""
    p = Path(path)
    if not p.is_file():
        raise QuantError(f"policy file {str(p)!r} does not exist; pass the policy.json written by 'eatnas quant search'")
    try:
        data = json.loads(p.read_text())
        policy = {str(e["name"]): int(e["bits"]) for e in data["layers"]}
        scheme = check_scheme(str(data.get("scheme", "per_channel")))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise QuantError(f"{p}: not a bit-policy file ({exc.__class__.__name__}: {exc}); "
                         "expected {\"scheme\": ..., \"layers\": [{\"name\", \"bits\", ...}]}") from None
    return policy, scheme


def export_quantized(path: str | Path, model: nn.Module, policy: Mapping[str, int], scheme: str = "per_channel",
                     meta: Mapping[str, Any] | None = None) -> Path:
    """Save the quantized model: packed codes + scales for quantized weights, float for the rest."""
    check_scheme(scheme)
    policy = validate_policy(model, policy)
    state = model.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    layers = {}
    for name, bits in policy.items():
        key = f"{name}.weight"
        if bits == FLOAT_BITS:
            continue
        q = quantize_tensor(state[key], bits, scheme)
        numel = state[key].numel()
        tensors[f"q::{key}::codes"] = pack_codes(q.codes.reshape(-1)[:numel], bits)  # bucket padding not stored
        tensors[f"q::{key}::lo"] = q.lo.clone()
        tensors[f"q::{key}::scale"] = q.scale.clone()
        layers[key] = {"bits": bits, "shape": list(q.shape), "groups": int(q.codes.shape[0]),
                       "group_size": int(q.codes.shape[1])}
    for key, value in state.items():
        if key not in layers:
            tensors[f"f::{key}"] = value.detach().cpu().clone()
    header = {"format": FORMAT, "scheme": scheme, "policy": dict(policy), "quantized": layers, "meta": dict(meta or {})}
    payload = {"header": json.dumps(header), "tensors": tensors}
    return atomic_write(path, lambda fh: torch.save(payload, fh))


def read_quantized(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(header, float state dict)`` of an exported file; quantized weights are dequantized exactly."""
    p = Path(path)
    if not p.is_file():
        raise QuantError(f"quantized model {str(p)!r} does not exist; export one with 'eatnas quant search'")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
        header = json.loads(payload["header"])
        tensors = payload["tensors"]
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise QuantError(f"{p}: not a readable quantized model ({exc.__class__.__name__}); re-export it") from None
    if header.get("format") != FORMAT:
        raise QuantError(f"{p}: format {header.get('format')!r} is not {FORMAT!r}; re-export it with this version")
    state: dict[str, torch.Tensor] = {k[3:]: v for k, v in tensors.items() if k.startswith("f::")}
    for key, info in header["quantized"].items():
        bits, groups, gsize = int(info["bits"]), int(info["groups"]), int(info["group_size"])
        numel = 1
        for d in info["shape"]:
            numel *= int(d)
        codes = torch.zeros(groups * gsize, dtype=torch.long)
        codes[:numel] = unpack_codes(tensors[f"q::{key}::codes"], bits, numel)
        codes = codes.reshape(groups, gsize)
        qt = QuantizedTensor(codes, tensors[f"q::{key}::lo"], tensors[f"q::{key}::scale"], bits,
                             header["scheme"], tuple(info["shape"]))
        state[key] = qt.dequantize()
    return header, state


def load_quantized(model: nn.Module, path: str | Path) -> tuple[nn.Module, dict]:
    """Load an exported file into ``model`` (same architecture) -> ``(model, header)``."""
    header, state = read_quantized(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise QuantError(f"{path}: weights do not fit the model ({first}); build the architecture it was exported from") from None
    return model, header


def export_onnx(path: str | Path, quantized_model: nn.Module, input_shape: tuple[int, ...],
                check: bool = True, atol: float = 1e-4) -> dict:
    """ONNX export of a (PTQ) model whose weights are the dequantized values; checked with onnxruntime.

    Returns ``{"path", "max_abs_diff"}`` (``max_abs_diff`` between torch and onnxruntime logits).
    """
    model = quantized_model.eval()
    x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=False, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    data = buf.getvalue()
    atomic_write(path, lambda fh: fh.write(data))
    result: dict = {"path": str(path), "max_abs_diff": None}
    if check:
        import onnxruntime as ort

        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        got = sess.run(["logits"], {"input": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        diff = float(np.abs(got - want).max())
        result["max_abs_diff"] = diff
        if diff > atol * max(1.0, float(np.abs(want).max())):
            raise QuantError(f"{path}: onnxruntime output differs from torch by {diff:.3g}; the export is wrong")
    return result


def export_onnx_if_available(path: Path, model: nn.Module, spec: Mapping[str, int]) -> dict | None:
    """:func:`export_onnx` for a model built for ``spec`` (``in_channels``, ``input_size``); ``None`` (and a
    warning) when onnx/onnxruntime are not installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        log.warning("onnx/onnxruntime not installed (pip install '.[export]'): no %s", path.name)
        return None
    return export_onnx(path, model, (1, spec["in_channels"], spec["input_size"], spec["input_size"]))
