"""Progress bars with ETA on stderr (tqdm) for every long stage; a disabled bar is a no-op with the same API."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, desc: str, enabled: bool = True, *, unit: str = "step", initial: int = 0,
                 smoothing: float = 0.3) -> Any:
    """A tqdm bar (update, set_postfix, write, close; usable as a context manager), silent when not `enabled`."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, leave=True, smoothing=smoothing)
