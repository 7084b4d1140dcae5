"""Progress bars that also read well in a log file: a bar redrawn on a terminal, a line now and then elsewhere."""

__all__ = ["LOG_INTERVAL_S", "progress_bar"]

import sys
import time
from typing import Any

from tqdm import std, tqdm
from tqdm.auto import tqdm as auto_tqdm
from tqdm.autonotebook import tqdm as notebook_or_console

#: seconds between two progress lines written into a log file or pipe
LOG_INTERVAL_S = 30.0


class _LineBar(tqdm):
    """A tqdm bar that writes its state as a whole line, at most one every :data:`LOG_INTERVAL_S`: its first and
    last too, unless it is a passing one (``leave=False``, e.g. the batches of one epoch)."""

    _written_at: float | None = None
    _written_n: float | None = None

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Write the bar's state as a line if none was written for :data:`LOG_INTERVAL_S` (``msg``, tqdm's clearing, is ignored)."""
        if msg is not None:
            return False
        now = time.monotonic()
        if self._written_at is None and not self.leave:  # a passing bar speaks only once it has run a while
            self._written_at = now
        if self._written_at is not None and now - self._written_at < LOG_INTERVAL_S:
            return True
        self.fp.write(self.__str__() + "\n")
        self.fp.flush()
        self._written_at, self._written_n = now, self.n
        return True

    def clear(self, nolock: bool = False) -> None:
        """Nothing to clear: lines written stay (``tqdm.write`` clears the bars before it prints)."""

    def close(self) -> None:
        """Write the final state (unless it was the last line written), then close without clearing."""
        if not self.disable and self.leave and self._written_n != self.n:
            self._written_at = None
            self.display()
        self.leave = False
        super().close()


def progress_bar(*args: Any, **kwargs: Any) -> tqdm:
    """A :class:`tqdm.tqdm` (same arguments) on a terminal or in a notebook; into a log file or pipe, one plain (ASCII)
    line every :data:`LOG_INTERVAL_S`."""
    if kwargs.get("disable") or sys.stderr.isatty() or notebook_or_console is not std.tqdm:
        return auto_tqdm(*args, **kwargs)
    return _LineBar(*args, **{**kwargs, "mininterval": LOG_INTERVAL_S, "ascii": True})
