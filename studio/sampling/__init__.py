"""Search over a generic step function: logits processors and search strategies. No models, no tokenizers."""

from studio.sampling.processors import (
    BanTokens,
    LogitsProcessor,
    NoRepeatNgram,
    RepetitionPenalty,
    Temperature,
    TokenMask,
    TopK,
    TopP,
    apply_processors,
    build_processors,
)
from studio.sampling.search import (
    Hypothesis,
    Sampler,
    SelectFn,
    StepFn,
    StopFn,
    beam_search,
    sample,
    stochastic_beam_search,
)

__all__ = ["BanTokens", "Hypothesis", "LogitsProcessor", "NoRepeatNgram", "RepetitionPenalty", "Sampler",
           "SelectFn", "StepFn", "StopFn", "Temperature", "TokenMask", "TopK", "TopP", "apply_processors",
           "beam_search", "build_processors", "sample", "stochastic_beam_search"]
