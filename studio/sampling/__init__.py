"""Search over a generic step function: logits processors and sampling strategies. No models, no tokenizers."""

from studio.sampling.processors import BanTokens, LogitsProcessor, Temperature, apply_processors
from studio.sampling.search import StepFn, sample

__all__ = ["BanTokens", "LogitsProcessor", "StepFn", "Temperature", "apply_processors", "sample"]
