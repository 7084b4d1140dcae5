"""A render-free proxy of a synth: unit parameters and a note in, the log-mel of the sound out.

Trained on a rendered dataset, it stands in for the synth wherever a gradient must pass through a
render: a refit of ``vae_flow_post``'s flow (``synthgen refit-flow --spectral-weight``) learns
presets that sound like the input, not only parameters near the true ones. Noise oscillators and
random LFOs make a preset sound different at each render; the proxy learns the mean log-mel.
"""

__all__ = ["SURROGATE_DEFAULTS", "SoundSurrogate"]

from itertools import pairwise

import torch
from torch import Tensor, nn

from synthgen.nn.base import pitch_feature

#: hidden width and number of hidden layers
SURROGATE_DEFAULTS = {"hidden": 1024, "layers": 3}


class SoundSurrogate(nn.Module):
    """An MLP from unit parameters ``(B, P)`` and MIDI pitches ``(B,)`` to standardized log-mels
    ``(B, n_mels, n_frames)`` (the standardization of the model it serves).

    Arguments:
        n_params: learned parameters of the synth config.
        n_mels, n_frames: spectrogram size.
        hidden, layers: width and number of the hidden GELU layers.
    """

    def __init__(self, n_params: int, n_mels: int, n_frames: int, hidden: int = 1024, layers: int = 3) -> None:
        super().__init__()
        self.config = {"n_params": n_params, "n_mels": n_mels, "n_frames": n_frames, "hidden": hidden, "layers": layers}
        widths = [n_params + 1] + [hidden] * layers
        blocks: list[nn.Module] = []
        for width_in, width_out in pairwise(widths):
            blocks += [nn.Linear(width_in, width_out), nn.GELU()]
        self.net = nn.Sequential(*blocks, nn.Linear(widths[-1], n_mels * n_frames))

    def forward(self, params_unit: Tensor, midi_pitch: Tensor | None = None) -> Tensor:
        x = torch.cat([params_unit, pitch_feature(midi_pitch, params_unit)], dim=1)
        return self.net(x).view(len(params_unit), self.config["n_mels"], self.config["n_frames"])
