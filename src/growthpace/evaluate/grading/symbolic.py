"""Equality by value of two normalised math answers with Hugging Face's math-verify, under a limit
of CPU time (sympy can take minutes on a pathological expression, and a grader must always answer).
Its own module: the answer readers (``evaluate.scorers``) and the match stage both use it."""

from __future__ import annotations

import logging
import signal
import threading

# CPU seconds allowed to one math-verify parse-and-compare.
SYMBOLIC_CPU_SECONDS = 2.0


class CpuTimeout(BaseException):
    """Raised by the CPU-time alarm. A BaseException, so sympy's ``except Exception`` cannot swallow it."""


def _on_alarm(signum, frame):
    raise CpuTimeout


def cpu_limited(fn, seconds: float = SYMBOLIC_CPU_SECONDS, default=None):
    """``fn()``, or ``default`` once it has used ``seconds`` of CPU time. The alarm is ITIMER_VIRTUAL
    (process CPU time, so a loaded machine does not cut a fair computation short) and re-fires every
    50 ms until cleared, so a bare ``except:`` inside ``fn`` cannot outlive it. Signals are set from
    the main thread only: elsewhere the call is skipped and ``default`` returned."""
    if threading.current_thread() is not threading.main_thread():
        return default
    old = signal.signal(signal.SIGVTALRM, _on_alarm)
    try:
        try:
            signal.setitimer(signal.ITIMER_VIRTUAL, seconds, 0.05)
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    except CpuTimeout:
        return default
    finally:
        signal.signal(signal.SIGVTALRM, old)


_WARM = []


class _OwnLimit(logging.Filter):
    """math-verify warns once that its own timeout is off: the CPU-time limit here replaces it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


def _warm_up() -> None:
    """math-verify's first call imports sympy and builds its LaTeX grammar (seconds of CPU): done once,
    outside the limit, so the limit measures comparisons only."""
    if not _WARM:
        for name in ("math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).addFilter(_OwnLimit())
        from math_verify import parse, verify

        one = parse("$1$", parsing_timeout=None)
        _WARM.append(verify(one, one, timeout_seconds=None))


def symbolic_equiv(pred: str, gold: str) -> bool:
    """Equality by value of two normalised answers with math-verify, under the CPU-time limit."""
    def run() -> bool:
        from math_verify import parse, verify

        golds = parse(f"${gold}$", parsing_timeout=None)
        preds = parse(f"${pred}$", parsing_timeout=None)
        return bool(golds and preds and verify(golds, preds, timeout_seconds=None))
    try:
        if threading.current_thread() is threading.main_thread():
            _warm_up()
        return bool(cpu_limited(run, SYMBOLIC_CPU_SECONDS, default=False))
    except Exception:  # noqa: BLE001 - a grader must never crash on odd text
        return False
