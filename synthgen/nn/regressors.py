"""Direct regressors from log-mels to parameters: the paper's MLP and CNN baselines."""

__all__ = ["CNNRegressor", "MLPRegressor"]

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn

from synthgen.nn.base import CONV_DEFAULTS, SynthModel
from synthgen.nn.encoders import mlp
from synthgen.nn.heads import ParameterHead


class _Regressor(SynthModel):
    """A body from log-mels to features, then a :class:`ParameterHead`.

    The body is ``(front, mlp)``: the front reads the log-mel; the pitch feature joins its output
    before the MLP.
    """

    def __init__(self, n_classes: Sequence[int], n_mels: int, n_frames: int, **settings: int | float) -> None:
        super().__init__(n_classes, n_mels, n_frames, **settings)
        self.body = self._build_body()
        self.head = ParameterHead(self.config["hidden"], self.layout)

    @abstractmethod
    def _build_body(self) -> nn.Sequential:
        """``(front, mlp)``: log-mels (B, n_mels, n_frames) -> features, then (with the pitch) -> (B, hidden)."""

    def forward(self, mel: Tensor, midi_pitch: Tensor | None = None) -> dict[str, Tensor]:
        """``param_values`` (B, P) and ``param_logits`` (B, n_logits)."""
        self.check_mel(mel)
        front, body = self.body
        return self.head(body(self.condition(front(mel), midi_pitch)))

    def loss(
        self,
        mel: Tensor,
        params_unit: Tensor,
        outputs: dict[str, Tensor],
        beta: float = 1.0,
        gamma: float = 1.0,
    ) -> dict[str, Tensor]:
        """``total`` = ``param`` = ``param_sse`` + ``param_ce``; ``beta`` and ``gamma`` are unused."""
        self.layout.check(params_unit)
        parts = self.head.loss(outputs, params_unit)
        param = parts["param_sse"] + parts["param_ce"]
        return {"total": param, "param": param, **parts}


class MLPRegressor(_Regressor):
    """Flattened log-mel -> ``layers`` x (Linear, batch norm, ELU, dropout) -> parameters."""

    NAME = "mlp"
    DEFAULTS: ClassVar[dict[str, int | float]] = {"hidden": 512, "layers": 3, "dropout": 0.3}

    def _build_body(self) -> nn.Sequential:
        c = self.config
        return nn.Sequential(nn.Flatten(), mlp(self.n_mels * self.n_frames + self.n_conditions, c["hidden"], c["layers"], c["dropout"]))


class CNNRegressor(_Regressor):
    """Strided conv encoder -> ``mlp_layers`` x (Linear, batch norm, ELU, dropout) -> parameters."""

    NAME = "cnn"
    DEFAULTS: ClassVar[dict[str, int | float]] = {**CONV_DEFAULTS, "mlp_layers": 2, "dropout": 0.3}

    def _build_body(self) -> nn.Sequential:
        c = self.config
        return nn.Sequential(self._conv_encoder(), mlp(c["hidden"] + self.n_conditions, c["hidden"], c["mlp_layers"], c["dropout"]))
