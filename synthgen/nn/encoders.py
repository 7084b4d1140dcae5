"""Convolutional encoder/decoder for log-mel spectrograms and the MLP block the models share."""

__all__ = ["ConvDecoder", "ConvEncoder", "mlp", "stage_sizes"]

from torch import Tensor, nn
from torch.nn import functional as F


def mlp(in_features: int, hidden: int, n_layers: int, dropout: float = 0.0) -> nn.Sequential:
    """``n_layers`` of (Linear, BatchNorm, ELU[, Dropout]); output width ``hidden``.

    Batch norm needs training batches of at least two rows.
    """
    layers: list[nn.Module] = []
    for layer in range(n_layers):
        layers += [nn.Linear(in_features if layer == 0 else hidden, hidden), nn.BatchNorm1d(hidden)]
        layers += [nn.ELU(), nn.Dropout(dropout)] if dropout > 0 else [nn.ELU()]
    return nn.Sequential(*layers)


def _padding(kernel_size: int, dilation: int) -> int:
    return dilation * (kernel_size - 1) // 2


def stage_sizes(n_mels: int, n_frames: int, n_layers: int, kernel_size: int, dilation_growth: int) -> list[tuple[int, int]]:
    """Feature-map sizes ``(height, width)`` of the input and after each strided conv layer."""
    sizes = [(n_mels, n_frames)]
    for layer in range(n_layers):
        dilation = dilation_growth**layer
        reach = dilation * (kernel_size - 1) - 2 * _padding(kernel_size, dilation)
        sizes.append(tuple((size - reach - 1) // 2 + 1 for size in sizes[-1]))
    return sizes


class ConvEncoder(nn.Module):
    """Log-mel ``(B, n_mels, n_frames)`` -> features ``(B, out_features)``.

    ``n_layers`` conv layers of ``channels`` channels, stride 2, dilation
    ``dilation_growth ** layer`` (the paper's CNN: 5 layers, 128 channels, kernel 7, growth 2),
    each with batch norm and ELU; then a linear layer and ELU.
    """

    def __init__(
        self,
        n_mels: int,
        n_frames: int,
        out_features: int,
        channels: int = 32,
        n_layers: int = 4,
        kernel_size: int = 5,
        dilation_growth: int = 1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for layer in range(n_layers):
            dilation = dilation_growth**layer
            layers += [
                nn.Conv2d(
                    1 if layer == 0 else channels,
                    channels,
                    kernel_size,
                    stride=2,
                    padding=_padding(kernel_size, dilation),
                    dilation=dilation,
                ),
                nn.BatchNorm2d(channels),
                nn.ELU(),
            ]
        height, width = stage_sizes(n_mels, n_frames, n_layers, kernel_size, dilation_growth)[-1]
        self.convs = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Linear(channels * height * width, out_features), nn.ELU())

    def forward(self, mel: Tensor) -> Tensor:
        return self.project(self.convs(mel.unsqueeze(1)).flatten(1))


class ConvDecoder(nn.Module):
    """Features ``(B, in_features)`` -> log-mel ``(B, n_mels, n_frames)``, mirroring the encoder.

    A linear layer fills the smallest feature map; each stage upsamples (nearest) to the matching
    encoder size and applies a stride-1 conv; the last conv outputs one channel, unbounded
    (inputs are standardized log-mels).
    """

    def __init__(
        self,
        n_mels: int,
        n_frames: int,
        in_features: int,
        channels: int = 32,
        n_layers: int = 4,
        kernel_size: int = 5,
        dilation_growth: int = 1,
    ) -> None:
        super().__init__()
        self.sizes = stage_sizes(n_mels, n_frames, n_layers, kernel_size, dilation_growth)
        height, width = self.sizes[-1]
        self.channels = channels
        self.expand = nn.Sequential(nn.Linear(in_features, channels * height * width), nn.ELU())
        self.convs = nn.ModuleList()
        for stage in range(n_layers, 0, -1):
            last = stage == 1
            conv = nn.Conv2d(channels, 1 if last else channels, kernel_size, padding="same")
            self.convs.append(conv if last else nn.Sequential(conv, nn.BatchNorm2d(channels), nn.ELU()))

    def forward(self, features: Tensor) -> Tensor:
        x = self.expand(features).view(-1, self.channels, *self.sizes[-1])
        for conv, size in zip(self.convs, reversed(self.sizes[:-1]), strict=True):
            x = conv(F.interpolate(x, size=size, mode="nearest"))
        return x.squeeze(1)
