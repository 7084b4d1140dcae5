"""Presets: human banks (amsynth), a generic JSON format, and native plugin states."""

__all__: list[str] = []
