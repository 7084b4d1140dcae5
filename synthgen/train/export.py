"""ONNX export of a trained model's inference paths, so that inference runs on onnxruntime without torch."""

__all__ = ["OPSET", "export_onnx"]

import json
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from synthgen.model import ONNX_FORMAT, PITCHED_PATHS, load_trained_module, onnx_graph_path, onnx_sidecar_path, sha256_of
from synthgen.nn import SynthModel
from synthgen.versions import package_versions

OPSET = 17


class _InferencePath(nn.Module):
    """One inference method of a model (``encode``, ``decode``, ...) as a module of its tensors."""

    def __init__(self, model: SynthModel, name: str) -> None:
        super().__init__()
        self.model, self.name = model, name

    def forward(self, *inputs: Tensor) -> Tensor:
        return getattr(self.model, self.name)(*inputs)


def _example_inputs(model: SynthModel) -> dict[str, Tensor]:
    """Each path the model has, with an example batch of its input (batch 2; the batch axis stays free)."""
    mel = torch.randn(2, model.n_mels, model.n_frames, generator=torch.Generator().manual_seed(0))
    if not model.has_latent:
        return {"infer": mel}
    z = torch.randn(2, model.config["latent_dim"], generator=torch.Generator().manual_seed(1))
    paths = {"encode": mel, "params_from_latent": z, "decode": z}
    if model.is_invertible:
        paths["latent_from_params"] = torch.rand(2, model.n_params, generator=torch.Generator().manual_seed(2))
    return paths


def _export_path(model: SynthModel, name: str, example: Tensor, file: Path) -> None:
    inputs, names = (example,), ["x"]
    if model.n_conditions and name in PITCHED_PATHS:
        inputs, names = (example, torch.tensor([48.0, 72.0])), ["x", "midi_pitch"]
    tmp = file.with_name(file.name + ".tmp")
    with warnings.catch_warnings():
        # the shape checks inside the methods are constants for a traced graph, as intended
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _InferencePath(model, name),
            inputs,
            str(tmp),
            dynamo=False,
            opset_version=OPSET,
            input_names=names,
            output_names=["y"],
            dynamic_axes={**{n: {0: "batch"} for n in names}, "y": {0: "batch"}},
        )
    os.replace(tmp, file)


def export_onnx(checkpoint: str | Path) -> list[Path]:
    """Write the ONNX graphs and sidecar of a checkpoint beside it.

    Every inference path gets one graph of one input ``x`` (plus ``midi_pitch`` ``(B,)`` for the
    pitched paths of a pitch-conditioned model) and one output ``y`` with a free batch axis:
    ``infer`` (standardized log-mels -> unit parameters) for the direct regressors;
    ``encode``, ``params_from_latent``, ``decode`` and, for invertible models,
    ``latent_from_params`` for the autoencoders. The sidecar ``<stem>.onnx.json`` holds the
    format version, the model's settings, mel statistics, synth config, training summary,
    package versions and the checkpoint's SHA-256 (a re-trained checkpoint makes the export stale).
    No path needs an iterative inverse: the IAF posterior runs forward (one pass) when encoding, and
    the regression flow's couplings invert in one pass each, so every graph is a plain trace.

    Arguments:
        checkpoint: ``model.pt`` or a run folder holding one.

    Returns:
        The files written, sidecar last.
    """
    checkpoint = Path(checkpoint)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "model.pt"
    payload, model = load_trained_module(checkpoint)
    graphs = {}
    for name, example in _example_inputs(model).items():
        file = onnx_graph_path(checkpoint, name)
        _export_path(model, name, example, file)
        graphs[name] = file.name
    info = {
        "format": ONNX_FORMAT,
        "model": payload["model"],
        "settings": model.config,
        "has_latent": model.has_latent,
        "is_invertible": model.is_invertible,
        "mel_stats": payload["mel_stats"],
        "synth_config": payload["synth_config"],
        "summary": payload.get("summary", {}),
        "seed": payload.get("seed"),
        "graphs": graphs,
        "checkpoint_sha256": sha256_of(checkpoint),
        "opset": OPSET,
        "versions": package_versions("synthgen", "torch", "onnx"),
    }
    sidecar = onnx_sidecar_path(checkpoint)
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, sidecar)
    return [checkpoint.with_name(f) for f in graphs.values()] + [sidecar]
