"""The page's moves: one JSON message each, merged while the server is behind, applied to the panel."""

__all__ = ["apply_message", "merge_moves", "parse_message"]

import json
from typing import Any

from synthgen.errors import SynthgenError
from synthgen.serve.panel import Panel, PanelState


def parse_message(text: str | None) -> Any:
    """The JSON of one websocket text message (``None``: a binary one)."""
    if text is None:
        raise SynthgenError("send moves as JSON text, not binary")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise SynthgenError("a message must be JSON") from None


def apply_message(panel: Panel, message: Any) -> PanelState:
    """Apply one move: ``{"type": "latent", "values": {dim: value}}``, ``xy`` (``x``, ``y``), ``note``
    (``midi_pitch``, ``velocity``) or ``undo``. A ``latent`` or ``xy`` move may carry an ``id`` (a
    whole number), echoed with its state and sound.

    Raises:
        SynthgenError: the message is malformed, out of range or of an unknown type.
    """
    if not isinstance(message, dict):
        raise SynthgenError("a message must be a JSON object with a 'type'")
    kind = message.get("type")
    if kind == "latent":
        values = message.get("values")
        if not isinstance(values, dict):
            raise SynthgenError("'latent' needs 'values': {dimension: value}")
        return panel.set_latent({_dimension(k): v for k, v in values.items()}, "knob", _move_id(message))
    if kind == "xy":
        return panel.set_xy(message.get("x"), message.get("y"), "xy", _move_id(message))
    if kind == "note":
        return panel.set_note(message.get("midi_pitch"), message.get("velocity"))
    if kind == "undo":
        return panel.undo()
    raise SynthgenError(f"unknown message type {kind!r}: use latent, xy, note or undo")


def _dimension(key: Any) -> int:
    try:
        return int(key)
    except (TypeError, ValueError):
        raise SynthgenError(f"latent dimension {key!r} is not a whole number") from None


def _move_id(message: dict) -> int | None:
    move_id = message.get("id")
    if move_id is not None and (isinstance(move_id, bool) or not isinstance(move_id, int)):
        raise SynthgenError(f"a move's 'id' must be a whole number, got {move_id!r}")
    return move_id


def _is(message: Any, kind: str) -> bool:
    return isinstance(message, dict) and message.get("type") == kind


def merge_moves(messages: list[Any]) -> list[Any]:
    """Merge runs of moves that arrived together: latent values join (later ones win), the last XY stands.

    Other messages keep their place, so the moves still apply in order.
    """
    merged: list[Any] = []
    for message in messages:
        last = merged[-1] if merged else None
        if (
            _is(message, "latent")
            and _is(last, "latent")
            and isinstance(message.get("values"), dict)
            and isinstance(last.get("values"), dict)
        ):
            merged[-1] = {**message, "values": {**last["values"], **message["values"]}}
        elif _is(message, "xy") and _is(last, "xy"):
            merged[-1] = message
        else:
            merged.append(message)
    return merged
