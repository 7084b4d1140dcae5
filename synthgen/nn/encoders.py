"""Convolutional encoder/decoder for log-mel spectrograms and the MLP block the models share."""

__all__ = ["ConvDecoder", "ConvEncoder", "mlp", "stage_sizes"]

from torch import Tensor, nn

from synthgen.errors import SynthgenError


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
        if min(sizes[-1]) < 1:
            raise SynthgenError(
                f"{n_layers} conv layers of kernel {kernel_size} shrink a {n_mels}x{n_frames} log-mel to nothing; "
                "use fewer conv_layers or an odd kernel_size"
            )
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


def _transposed_padding(in_size: int, out_size: int, kernel_size: int) -> tuple[int, int]:
    """``(padding, output_padding)`` of a stride-2 transposed conv from ``in_size`` to ``out_size``."""
    excess = 2 * in_size - 2 + kernel_size - out_size
    return (excess + excess % 2) // 2, excess % 2


class ConvDecoder(nn.Module):
    """Features ``(B, in_features)`` -> log-mel ``(B, n_mels, n_frames)``, mirroring the encoder.

    A linear layer fills the smallest feature map; each stage is a stride-2 transposed conv back
    to the matching encoder size (with batch norm and ELU); the last one outputs one channel,
    unbounded (inputs are standardized log-mels).
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
        sizes = stage_sizes(n_mels, n_frames, n_layers, kernel_size, dilation_growth)
        self.start_shape = (channels, *sizes[-1])
        self.expand = nn.Sequential(nn.Linear(in_features, channels * sizes[-1][0] * sizes[-1][1]), nn.ELU())
        layers: list[nn.Module] = []
        for stage in range(n_layers, 0, -1):
            (pad_h, extra_h), (pad_w, extra_w) = (
                _transposed_padding(small, large, kernel_size) for small, large in zip(sizes[stage], sizes[stage - 1], strict=True)
            )
            last = stage == 1
            layers.append(
                nn.ConvTranspose2d(
                    channels,
                    1 if last else channels,
                    kernel_size,
                    stride=2,
                    padding=(pad_h, pad_w),
                    output_padding=(extra_h, extra_w),
                )
            )
            if not last:
                layers += [nn.BatchNorm2d(channels), nn.ELU()]
        self.convs = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        return self.convs(self.expand(features).view(-1, *self.start_shape)).squeeze(1)
