"""A loaded plugin library's initialized static data, saved once and put back before each sound.

A plugin may keep state for the whole process in static variables: amsynth's noise and random
waveforms draw from one linear congruential generator (a function-local ``static``) that every voice
and every instance advances. A preset with noise then renders other audio each time, depending on what
the process rendered before. Putting the library's ELF ``.data`` section back as it was right after the
plugin loaded makes each sound start from the same values, so a preset renders the same audio whatever
came before it, in whichever process. ``.bss`` (state that starts at zero: buffers, pointers a plugin
fills in later) is left alone, and so is per-instance state on the heap (a voice's oscillator phase).

Linux only (it reads ``/proc/self/maps``); elsewhere, and for a library whose ``.data`` cannot be found
in a writable mapping, nothing is restored.
"""

__all__ = ["StaticData", "static_data_of"]

import ctypes
import mmap
from functools import cache
from pathlib import Path

_MAPS = Path("/proc/self/maps")


class StaticData:
    """The bytes at ``address`` as they were when saved; :meth:`restore` writes them back."""

    def __init__(self, address: int, size: int) -> None:
        self.address = address
        self.saved = ctypes.string_at(address, size)

    def restore(self) -> None:
        """Put the saved bytes back."""
        ctypes.memmove(self.address, self.saved, len(self.saved))


def _mappings() -> list[tuple[int, int, str, int, str]]:
    """This process's mappings: ``(start, end, permissions, file offset, path)``."""
    rows = []
    for line in _MAPS.read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6:
            start, end = (int(a, 16) for a in fields[0].split("-"))
            rows.append((start, end, fields[1], int(fields[2], 16), fields[5]))
    return rows


@cache
def _saved(library: str, address: int, size: int) -> StaticData:
    """The first snapshot of one mapping of ``library``'s ``.data`` (a library loaded again elsewhere gets its own)."""
    return StaticData(address, size)


def static_data_of(plugin: Path) -> StaticData | None:
    """The ``.data`` of the library ``plugin`` loaded (a ``.so``, or the one inside a ``.vst3`` bundle),
    as it was the first time it was asked for in this process: ask right after the plugin loads, before
    it renders. ``None`` where it cannot be found (not Linux, not ELF, no ``.data``)."""
    if not _MAPS.is_file():
        return None
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    root = str(plugin.resolve())
    mapped = [m for m in _mappings() if m[4] == root or m[4].startswith(root + "/")]
    files = {m[4] for m in mapped}
    if len(files) != 1:  # not loaded, or a bundle with several libraries: which one plays is unknown
        return None
    library = files.pop()
    try:
        with open(library, "rb") as f:
            elf = ELFFile(f)
            section = elf.get_section_by_name(".data")
            loads = [s["p_vaddr"] for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            if section is None or not section["sh_size"] or not loads:
                return None
            first = min(m[0] for m in mapped if m[3] == 0)
            bias = first - (min(loads) // mmap.PAGESIZE * mmap.PAGESIZE)
            address, size = bias + section["sh_addr"], section["sh_size"]
    except (OSError, ELFError, ValueError):
        return None
    if not any(start <= address and address + size <= end and perms.startswith("rw") for start, end, perms, _, _ in mapped):
        return None
    return _saved(library, address, size)
