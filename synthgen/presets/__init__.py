"""Human-made presets from synth-specific preset formats, mapped to the synths' host values."""

__all__: list[str] = []
