"""Progress on stderr: one line per phase; on a terminal, a bar redrawn in place while timing."""
from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``phase(text)`` starts a phase (``[case/total] text ...``), ``done()`` ends it with its duration,
    ``bar(fraction, label)`` draws ``[#####.....] label`` (in place on a terminal, every 25% otherwise)."""

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total = total
        self.case = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = time.perf_counter()
        self._text = ""
        self._last_quarter = -1

    def next_case(self, label: str) -> None:
        self.case += 1
        self._write(f"[{self.case}/{self.total}] {label}\n")

    def phase(self, text: str) -> None:
        self._text = text
        self._start = time.perf_counter()
        self._last_quarter = -1
        self._write(f"  {text} ..." + ("" if self.tty else "\n"))

    def bar(self, fraction: float, label: str, width: int = 30) -> None:
        """Draw the bar ``fraction`` (0..1) full, followed by ``label`` (e.g. ``12/50 rounds``)."""
        if not self.enabled:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(width * fraction)
        line = f"  {self._text} [{'#' * filled}{'.' * (width - filled)}] {label}"
        if self.tty:
            self._write("\r\033[K" + line)
        else:
            quarter = int(4 * fraction)
            if quarter != self._last_quarter:
                self._last_quarter = quarter
                self._write(line + "\n")

    def done(self, note: str = "") -> None:
        elapsed = time.perf_counter() - self._start
        text = f"  {self._text}: {note + ', ' if note else ''}{elapsed:.1f} s\n"
        self._write(("\r\033[K" if self.tty else "") + text)

    def _write(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text)
            self.stream.flush()
