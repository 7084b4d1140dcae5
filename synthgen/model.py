"""The model artifact: where shipped models live, their mel statistics, and loading one for inference.

A trained model is ``model.pt`` (the torch checkpoint) plus, written beside it by ``synthgen train``
or ``synthgen export-onnx``, one ONNX graph per inference path (``model.encode.onnx``, ...) and a
JSON sidecar ``model.onnx.json`` with the model's settings, mel statistics, synth config and format
version. :func:`load_model` runs the ONNX graphs with onnxruntime where they are present and
current, so inference needs no torch; the checkpoint serves training and the torch backend.
"""

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_MODEL",
    "INFERENCE_PATHS",
    "MODELS_DIR",
    "PITCHED_PATHS",
    "ONNX_FORMAT",
    "LoadedModel",
    "MelStats",
    "load_checkpoint",
    "load_model",
    "load_trained_module",
    "onnx_graph_path",
    "onnx_sidecar_path",
    "sha256_of",
]

import hashlib
import importlib.util
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from synthgen.config import SynthConfig, parse_config
from synthgen.errors import SynthgenError

if TYPE_CHECKING:
    from synthgen.nn import SynthModel

_PACKAGE = Path(__file__).resolve().parent
# The repository's models/ folder; a built wheel carries it inside the package.
MODELS_DIR = next((d for d in (_PACKAGE / "models", _PACKAGE.parent / "models") if d.is_dir()), _PACKAGE.parent / "models")
DEFAULT_MODEL = MODELS_DIR / "builtin_vae_flow_post" / "model.pt"

CHECKPOINT_FORMAT = "synthgen-checkpoint-1"
ONNX_FORMAT = "synthgen-onnx-1"
#: The model methods an artifact can run, each from one array to one array (standardized log-mels in and out).
INFERENCE_PATHS = ("infer", "encode", "params_from_latent", "latent_from_params", "decode")
#: The paths that also take the MIDI pitch ``(B,)`` of the sounds, as a second input, in a pitch-conditioned model.
PITCHED_PATHS = ("infer", "encode", "decode")

Backend = Literal["auto", "torch", "onnx"]
# torch.save writes a zip archive: one that starts so but has lost its end (its directory) was cut on the way
_ZIP_MAGIC = b"PK\x03\x04"


def onnx_sidecar_path(checkpoint: Path) -> Path:
    """``model.pt`` -> ``model.onnx.json``."""
    return checkpoint.with_name(f"{checkpoint.stem}.onnx.json")


def onnx_graph_path(checkpoint: Path, path_name: str) -> Path:
    """``model.pt``, ``"encode"`` -> ``model.encode.onnx``."""
    return checkpoint.with_name(f"{checkpoint.stem}.{path_name}.onnx")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file (ties the ONNX export to the checkpoint it came from)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MelStats:
    """One global mean and std of the training log-mels (scalars, as in the paper)."""

    mean: float
    std: float

    def standardize(self, mel: Any) -> Any:
        """``(mel - mean) / std`` on arrays or tensors."""
        return (mel - self.mean) / self.std

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std}


class _Runner(Protocol):
    """Runs one named inference path on a float32 array (and the MIDI pitches of its rows, when given)."""

    def run(self, path_name: str, x: np.ndarray, midi_pitch: np.ndarray | None = None) -> np.ndarray: ...


class _TorchRunner:
    """The checkpoint's torch module, run without gradients."""

    def __init__(self, module: "SynthModel") -> None:
        self.module = module

    def run(self, path_name: str, x: np.ndarray, midi_pitch: np.ndarray | None = None) -> np.ndarray:
        import torch

        inputs = [torch.from_numpy(x)] + ([] if midi_pitch is None else [torch.from_numpy(midi_pitch)])
        with torch.no_grad():
            return getattr(self.module, path_name)(*inputs).numpy()


class _OnnxRunner:
    """One onnxruntime session per exported path, opened on first use (and again after pickling)."""

    def __init__(self, graphs: dict[str, Path]) -> None:
        self.graphs = graphs
        self._sessions: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"graphs": self.graphs, "_sessions": {}}

    def run(self, path_name: str, x: np.ndarray, midi_pitch: np.ndarray | None = None) -> np.ndarray:
        if path_name not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.log_severity_level = 3  # errors only
            self._sessions[path_name] = ort.InferenceSession(str(self.graphs[path_name]), options, providers=["CPUExecutionProvider"])
        feeds = {"x": x} if midi_pitch is None else {"x": x, "midi_pitch": midi_pitch}
        return self._sessions[path_name].run(None, feeds)[0]


@dataclass
class LoadedModel:
    """A model ready for inference, with the synth config and feature settings it was trained on.

    All methods take and return numpy arrays; log-mels are raw (the model's standardization is
    applied here). ``backend`` says what runs it: ``"onnx"`` (onnxruntime) or ``"torch"``.
    ``midi_pitch`` is the note the sounds are played at (one number, or one per row); None means
    the note of the model's config. Models trained without pitch conditioning ignore it.
    """

    name: str
    stats: MelStats
    config: SynthConfig
    path: Path
    summary: dict
    settings: dict
    has_latent: bool
    is_invertible: bool
    backend: str
    runner: _Runner

    @property
    def n_params(self) -> int:
        """Learned parameters P."""
        return len(self.settings["n_classes"])

    @property
    def latent_dim(self) -> int:
        """Latent size D (autoencoders only)."""
        self._need("latent space", self.has_latent, "vae, wae, vae_flow or vae_flow_post")
        return int(self.settings["latent_dim"])

    @property
    def module(self) -> "SynthModel":
        """The torch module (torch backend only)."""
        if not isinstance(self.runner, _TorchRunner):
            raise SynthgenError(f"model {self.path} runs on onnxruntime; load it with backend='torch' for the torch module")
        return self.runner.module

    def _need(self, what: str, ok: bool, models: str) -> None:
        if not ok:
            raise SynthgenError(f"model {self.name!r} has no {what}; use {models}")

    @property
    def takes_pitch(self) -> bool:
        """Whether the model was trained with the note as an input."""
        return bool(self.settings.get("pitch_conditioning", 0))

    def _run(self, path_name: str, x: Any, what: str, row_shape: tuple[int, ...], midi_pitch: Any = None) -> np.ndarray:
        """Check ``x`` is ``(B, *row_shape)``, then run one path on it as float32 (with the pitches, for a pitched path)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != len(row_shape) + 1 or x.shape[1:] != row_shape:
            expected = ", ".join(map(str, ("batch", *row_shape)))
            raise SynthgenError(f"model {self.name!r} expects {what} of shape ({expected}), got {x.shape}")
        pitch = None
        if self.takes_pitch and path_name in PITCHED_PATHS:
            pitch = np.asarray(self.config.render.midi_pitch if midi_pitch is None else midi_pitch, dtype=np.float32).reshape(-1)
            if len(pitch) not in (1, len(x)):
                raise SynthgenError(f"model {self.name!r} got {len(pitch)} MIDI pitches for {len(x)} sounds; give one, or one per sound")
            pitch = np.broadcast_to(pitch, (len(x),)).copy()
        return self.runner.run(path_name, np.ascontiguousarray(x), pitch)

    def _run_mel(self, path_name: str, mel: np.ndarray, midi_pitch: Any) -> np.ndarray:
        mel = np.asarray(mel, dtype=np.float32)
        shape = (self.settings["n_mels"], self.settings["n_frames"])
        return self._run(path_name, self.stats.standardize(mel), "log-mels", shape, midi_pitch)

    def encode(self, mel: np.ndarray, midi_pitch: int | np.ndarray | None = None) -> np.ndarray:
        """Log-mels ``(B, n_mels, n_frames)`` -> latents ``(B, D)``."""
        self._need("latent space", self.has_latent, "vae, wae, vae_flow or vae_flow_post")
        return self._run_mel("encode", mel, midi_pitch)

    def infer(self, mel: np.ndarray, midi_pitch: int | np.ndarray | None = None) -> np.ndarray:
        """Log-mels ``(B, n_mels, n_frames)`` -> unit parameters ``(B, P)``."""
        return self.params_from_latent(self.encode(mel, midi_pitch)) if self.has_latent else self._run_mel("infer", mel, midi_pitch)

    def params_from_latent(self, z: np.ndarray) -> np.ndarray:
        """Latents ``(B, D)`` -> unit parameters ``(B, P)``."""
        return self._run("params_from_latent", z, "latents", (self.latent_dim,))

    def latent_from_params(self, params_unit: np.ndarray) -> np.ndarray:
        """Unit parameters ``(B, P)`` -> latents ``(B, D)`` (invertible models only)."""
        self._need("invertible parameter map", self.is_invertible, "vae_flow_post")
        return self._run("latent_from_params", params_unit, "parameters", (self.n_params,))

    def decode(self, z: np.ndarray, midi_pitch: int | np.ndarray | None = None) -> np.ndarray:
        """Latents ``(B, D)`` -> raw log-mels ``(B, n_mels, n_frames)`` (autoencoders only)."""
        return self._run("decode", z, "latents", (self.latent_dim,), midi_pitch) * self.stats.std + self.stats.mean


def _read_sidecar(checkpoint: Path) -> dict | None:
    """The ONNX sidecar of ``checkpoint`` if it exists, is readable and was exported from this checkpoint."""
    sidecar = onnx_sidecar_path(checkpoint)
    if not sidecar.is_file():
        return None
    try:
        info = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        raise SynthgenError(f"{sidecar} is not a synthgen ONNX sidecar (not JSON)") from None
    if not isinstance(info, dict) or info.get("format") != ONNX_FORMAT:
        raise SynthgenError(f"{sidecar} is not a {ONNX_FORMAT} sidecar: export the model again with `synthgen export-onnx`")
    if checkpoint.is_file() and info.get("checkpoint_sha256") != sha256_of(checkpoint):
        return None
    return info


def _load_onnx(checkpoint: Path, info: dict, synth_config: SynthConfig | None) -> LoadedModel:
    graphs = {name: checkpoint.with_name(file) for name, file in info["graphs"].items()}
    missing = [str(p) for p in graphs.values() if not p.is_file()]
    if missing:
        raise SynthgenError(f"ONNX graph missing: {missing[0]}; export the model again with `synthgen export-onnx`")
    return _loaded(
        checkpoint,
        info,
        synth_config,
        settings=info["settings"],
        has_latent=info["has_latent"],
        is_invertible=info["is_invertible"],
        backend="onnx",
        runner=_OnnxRunner(graphs),
    )


def load_checkpoint(path: str | Path, device: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint without running any code it might contain (``weights_only=True``)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise SynthgenError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many types for foreign or damaged files
        with open(path, "rb") as f:
            cut_archive = f.read(4) == _ZIP_MAGIC and not zipfile.is_zipfile(path)  # a zip's directory is at its end
        if cut_archive or isinstance(e, EOFError):
            raise SynthgenError(
                f"{path} is truncated or corrupt ({path.stat().st_size} bytes, torch cannot read it): copy it again"
            ) from None
        raise SynthgenError(f"{path} is not a synthgen model checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise SynthgenError(f"{path} is not a synthgen model checkpoint")
    return payload


def load_trained_module(path: str | Path) -> tuple[dict[str, Any], "SynthModel"]:
    """A checkpoint's payload and its model, weights loaded, in eval mode (needs torch)."""
    from synthgen.nn import build_model

    payload = load_checkpoint(path)
    missing = [k for k in ("model", "config", "state_dict", "mel_stats", "synth_config") if k not in payload]
    if missing:
        raise SynthgenError(f"{path} is not a synthgen model (no '{missing[0]}'): pass a model.pt written by `synthgen train`")
    # Checkpoints written before models took the note as an input have no pitch conditioning.
    module = build_model(payload["model"], **{"pitch_conditioning": 0, **payload["config"]})
    module.load_state_dict(payload["state_dict"])
    module.eval()
    return payload, module


def _load_torch(checkpoint: Path, synth_config: SynthConfig | None) -> LoadedModel:
    payload, module = load_trained_module(checkpoint)
    return _loaded(
        checkpoint,
        payload,
        synth_config,
        settings=module.config,
        has_latent=module.has_latent,
        is_invertible=module.is_invertible,
        backend="torch",
        runner=_TorchRunner(module),
    )


def _loaded(checkpoint: Path, record: dict[str, Any], synth_config: SynthConfig | None, **backend: Any) -> LoadedModel:
    """A :class:`LoadedModel` from what a checkpoint or its ONNX sidecar records (name, mel statistics,
    synth config, summary) and the backend's own fields."""
    return LoadedModel(
        name=record["model"],
        stats=MelStats(**record["mel_stats"]),
        config=_trusted_config(record["synth_config"], synth_config, checkpoint),
        path=checkpoint,
        summary=record.get("summary", {}),
        **backend,
    )


def _trusted_config(stored: dict, synth_config: SynthConfig | None, checkpoint: Path) -> SynthConfig:
    """The model's synth config with its plugin located by the user's configs, never by the model file."""
    from synthgen.synths.resolve import model_synth_config

    return model_synth_config(parse_config(stored, source=f"model {checkpoint}"), synth_config, f"model {checkpoint}")


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def load_model(path: str | Path, synth_config: SynthConfig | None = None, backend: Backend = "auto") -> LoadedModel:
    """Load a trained model for inference.

    The model file holds only tensors, graphs and JSON-like data, and never chooses native code: a
    plugin model's plugin is found through ``synth_config`` or the shipped config of its synth
    (see :func:`synthgen.synths.resolve.model_synth_config`).

    Arguments:
        path: ``model.pt`` or a run folder holding one.
        synth_config: the user's config for the model's synth (``--synth``); it must match the model's.
        backend: ``"onnx"`` runs the exported graphs with onnxruntime; ``"torch"`` the checkpoint
            (torch installed); ``"auto"`` picks onnx when the export is present and matches the
            checkpoint, torch otherwise.

    Raises:
        SynthgenError: no model there, a damaged file, or the backend asked for is not available.
    """
    checkpoint = Path(path)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "model.pt"
    if backend not in ("auto", "torch", "onnx"):
        raise SynthgenError(f"unknown backend {backend!r}; choose auto, torch or onnx")
    if not checkpoint.is_file() and not onnx_sidecar_path(checkpoint).is_file():
        raise SynthgenError(f"model file not found: {checkpoint}")
    info = _read_sidecar(checkpoint) if backend != "torch" else None
    if backend == "onnx" or (backend == "auto" and info is not None and _installed("onnxruntime")):
        if info is None:
            raise SynthgenError(f"{checkpoint} has no current ONNX export: run `synthgen export-onnx {checkpoint}` (needs torch)")
        if not _installed("onnxruntime"):
            raise SynthgenError("the onnx backend needs onnxruntime: pip install onnxruntime")
        return _load_onnx(checkpoint, info, synth_config)
    if not _installed("torch"):
        raise SynthgenError(
            f"{checkpoint} has no current ONNX export, and running the checkpoint needs torch: "
            "pip install 'synthgen[train]' (see README), then `synthgen export-onnx` to run it without torch"
        )
    return _load_torch(checkpoint, synth_config)
