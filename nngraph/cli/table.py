"""Plain-text tables for the terminal."""
from __future__ import annotations

from typing import Sequence

__all__ = ["format_table"]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[bool] | None = None,
                 max_width: int = 80) -> str:
    """Columns padded to their widest cell (cut at ``max_width``); ``right[i]`` right-aligns column ``i``."""
    right = list(right) if right is not None else [False] * len(headers)
    cells = [[str(c) if len(str(c)) <= max_width else str(c)[:max_width - 3] + "..." for c in r]
             for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])
