"""Quantization (JASQ): fake-quant quantizers, bit policies, size accounting, policy search, export.

Main entry points: :func:`fake_quant`, :func:`quantize_model` (PTQ), :func:`qat_finetune`,
:func:`model_size`, :func:`export_quantized` / :func:`load_quantized`, :func:`export_onnx`,
:func:`run_policy_search`; the spaces are in :mod:`eatnas.space.quant`.
"""

from eatnas.quant.apply import ActivationQuantizer, qat_finetune, quantize_model
from eatnas.quant.errors import QuantError
from eatnas.quant.export import export_onnx, export_quantized, load_quantized, read_policy_json, write_policy_json
from eatnas.quant.policy import PolicyRules, quantizable_layers, uniform_policy, validate_policy
from eatnas.quant.quantizers import FLOAT_BITS, fake_quant, quantize_tensor
from eatnas.quant.size import float_size_mb, model_size

__all__ = ["ActivationQuantizer", "FLOAT_BITS", "PolicyRules", "QuantError", "export_onnx", "export_quantized",
           "fake_quant", "float_size_mb", "load_quantized", "model_size", "qat_finetune", "quantizable_layers",
           "quantize_model", "quantize_tensor", "read_policy_json", "uniform_policy", "validate_policy",
           "write_policy_json"]
