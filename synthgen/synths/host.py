"""DawDreamer, the host that renders every synth, imported with one clear line when it cannot load."""

__all__ = ["import_dawdreamer"]

from types import ModuleType

from synthgen.errors import SynthgenError


def import_dawdreamer() -> ModuleType:
    """The ``dawdreamer`` module.

    Raises:
        SynthgenError: it is not installed, or a system library it links against is missing (it
            needs OpenGL and X11 client libraries even without a display).
    """
    try:
        import dawdreamer
    except ModuleNotFoundError as e:
        if e.name != "dawdreamer":
            raise
        raise SynthgenError("DawDreamer, which renders every synth, is not installed: pip install -e . (see README)") from None
    except ImportError as e:
        raise SynthgenError(
            f"DawDreamer, which renders every synth, cannot load: {e}. It links against the system's OpenGL "
            "and X11 libraries even without a display (Debian/Ubuntu: sudo apt-get install libgl1 libx11-6)"
        ) from None
    return dawdreamer
