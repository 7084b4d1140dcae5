"""What the server tells the page: the panel's layout, each state, and each sound as one binary frame."""

__all__ = ["hello_message", "mel_message", "sound_frame", "state_message"]

import json
import struct

import numpy as np

from synthgen.serve.panel import Panel, PanelState
from synthgen.serve.readout import read_parameters
from synthgen.serve.render_worker import Sound

# Log-mels (natural log) are sent as 0..255 levels over this range below the loudest bin (about 43 dB).
_MEL_RANGE = 10.0


def hello_message(panel: Panel) -> dict:
    """The panel's layout: model, synth, knobs and their range, parameter names."""
    model = panel.model
    return {
        "type": "hello",
        "model": model.name,
        "model_path": str(model.path),
        "synth": model.config.name,
        "knobs": [k.to_dict() for k in panel.knobs],
        "latent_range": panel.latent_range,
        "latent_dims": len(panel.state.z),
        "parameters": model.config.space.names,
    }


def state_message(panel: Panel, state: PanelState) -> dict:
    """One state: the latent point, the parameters with values and units, the note, the output gain, the history size."""
    return {
        "type": "state",
        "version": state.version,
        "z": [round(float(v), 4) for v in state.z],
        "parameters": [r.to_dict() for r in read_parameters(panel.model.config, state.unit)],
        "midi_pitch": state.midi_pitch,
        "velocity": state.velocity,
        "gain_db": round(state.gain_db, 2),
        "source": state.source,
        "move_id": state.move_id,
        "history": panel.history_size,
    }


def sound_frame(sound: Sound) -> bytes:
    """A sound as one binary websocket frame: a little-endian uint32 header length, the JSON header, the WAV file.

    The header holds ``version``, ``move_id``, ``render_ms`` and the plugin's ``display`` texts.
    """
    header = {"version": sound.version, "move_id": sound.move_id, "render_ms": round(sound.render_s * 1000.0, 2), "display": sound.display}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return struct.pack("<I", len(encoded)) + encoded + sound.wav


def mel_message(version: int, mel: np.ndarray) -> dict:
    """A sound's log-mel ``(n_mels, n_frames)`` as 0..255 ``levels`` (row-major, low band first)."""
    mel = np.asarray(mel, dtype=np.float32)
    top = float(mel.max())
    levels = np.clip((mel - (top - _MEL_RANGE)) / _MEL_RANGE * 255.0, 0, 255).astype(np.uint8)
    return {"type": "spectrogram", "version": version, "n_mels": mel.shape[0], "n_frames": mel.shape[1], "levels": levels.ravel().tolist()}
