"""The listening control's defaults and ranges (``studio.music.trade.listening`` does the listening): apart, and
free of torch, so the page can lay out its slider without loading a model library."""

from __future__ import annotations

from studio.config import check_range

MAX_LISTEN_LR = 2.0
MAX_LISTEN_STEPS = 50
DEFAULT_LISTEN_STEPS = 5
# Chosen for the shipped `trade` on the validation pairs (4-bar, 400 answers each, temperature 1.0) as the rate whose
# answers' motif reuse comes closest to the real answers' 7.6%: 3.5% unheard, 6.4% after 5 steps at 0.3, 7.2% at 0.4,
# 8.0% at 0.5 (BENCHMARKS.md, trading fours: listening). Retrained models need it chosen again.
DEFAULT_LISTEN_LR = 0.4


def check_listening(lr: float, steps: int) -> None:
    """A clear message for a rate or step count out of range (0 turns listening off)."""
    check_range("listen rate", lr, 0.0, MAX_LISTEN_LR)
    check_range("listen steps", steps, 1, MAX_LISTEN_STEPS, integer=True)


__all__ = ["DEFAULT_LISTEN_LR", "DEFAULT_LISTEN_STEPS", "MAX_LISTEN_LR", "MAX_LISTEN_STEPS", "check_listening"]
