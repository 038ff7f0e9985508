"""One generation config, one search: the mode a ``GenerationConfig`` derives (sample, greedy, beam, diverse or
stochastic beam) run over a caller's step function with its rules, as every music service needs it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from studio.config import GenerationConfig
from studio.sampling.processors import LogitsProcessor, build_processors
from studio.sampling.search import Hypothesis, SelectFn, StepFn, StopFn, beam_search, sample, stochastic_beam_search


def search_rows(config: GenerationConfig) -> int:
    """How many rows a search of ``config`` steps at once (samples, beams, or beams x branches)."""
    settings = config.resolved()
    if config.mode in ("sample", "greedy"):
        return config.num_samples
    return config.beams * (settings["branch_factor"] or 1)


def run_search(config: GenerationConfig, step: StepFn, select: SelectFn, state: Any, first_logits: torch.Tensor,
               prefix: torch.Tensor, length: int, generator: torch.Generator,
               masks: Sequence[LogitsProcessor] = (), stop: StopFn | None = None,
               drawing_extra: Sequence[LogitsProcessor] = ()) -> list[Hypothesis]:
    """``config.num_samples`` hypotheses from the search ``config`` asks for.

    ``state`` and ``first_logits`` (1, vocab) are those after ``prefix`` (1, P); sampling expands them to one row
    per sample. ``masks`` join the config's rules (repetition penalty, n-gram ban, banned tokens) in every mode;
    temperature, top-k and top-p apply where tokens are drawn, after ``drawing_extra`` (a caller's own shaping of
    the draw, such as a separate temperature for some tokens; it never changes the reported log-probabilities).
    """
    settings = config.resolved()
    drawn = config.samples_tokens
    rules, drawing = build_processors(
        repetition_penalty=config.repetition_penalty, no_repeat_ngram=config.no_repeat_ngram, banned=config.banned,
        masks=list(masks), temperature=settings["temperature"] if drawn else None,
        top_k=settings["top_k"] if drawn else None, top_p=settings["top_p"] if drawn else None)
    drawing = [*drawing_extra, *drawing] if drawn else drawing
    if config.mode in ("sample", "greedy"):
        k = config.num_samples
        rows = torch.zeros(k, dtype=torch.long, device=first_logits.device)
        return sample(step, select(state, rows), first_logits.expand(k, -1), prefix.expand(k, -1), length, rules,
                      drawing, generator, greedy=config.mode == "greedy", stop=stop)
    if config.mode == "stochastic_beam":
        return stochastic_beam_search(step, select, state, first_logits, prefix, length, rules, drawing, config.beams,
                                      settings["branch_factor"], settings["steps_per_iteration"], generator,
                                      settings["length_penalty"], stop, config.num_samples)
    return beam_search(step, select, state, first_logits, prefix, length, rules, config.beams,
                       groups=config.beam_groups, diversity=settings["diversity"] or 0.0,
                       length_penalty=settings["length_penalty"], stop=stop, num_return=config.num_samples)
