"""Logging for workflow steps: everything a step prints, progress bars included, goes to its rule log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def to_rule_log(path: str | Path) -> None:
    """Send stderr (tqdm, warnings, tracebacks) and the logging module to ``path``, line-buffered."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "w", buffering=1, encoding="utf-8")
    sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
