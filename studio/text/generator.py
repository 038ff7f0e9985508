"""The Generator: load a model once, then serve generation requests. The CLI (and the UI) call only this.

``generate(request) -> GenerationResult`` runs any mode of ``GenerationConfig`` (greedy, sample, beam, diverse
beam, stochastic beam); ``stream(request)`` yields the text in pieces as it is produced, and the pieces join to
exactly the text ``generate`` returns for the same request.

Speed notes (measured on the 2-core CPU, see BENCHMARKS.md): the prompt runs through the model in one forward pass;
on the CPU one-token steps go through ``SingleStepper`` (one matrix product per layer instead of ``nn.LSTM``'s
per-call setup), in float32 for a few rows and in bfloat16 on oneDNN's AMX kernels for larger batches
(``studio.models.StepperCache``); K samples or beams advance as one batch, not K loops; everything runs under
``torch.inference_mode``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.config import GenerationConfig
from studio.errors import StudioError
from studio.loading import LoadedModel, load_model, pick_device, read_card, require_text_card, resolve_model
from studio.models import StepperCache
from studio.sampling import Hypothesis, Sampler, beam_search, build_processors, stochastic_beam_search
from studio.text.ngrams import corpus_index
from studio.text.tidy import tidy_prose


@dataclass
class GenerationRequest:
    """A prompt and how to continue it; ``raw`` shows the model's text untouched even when its card asks for tidying
    (``studio.text.tidy``: whole sentences, no empty headings)."""

    prompt: str = ""
    config: GenerationConfig = field(default_factory=GenerationConfig)
    raw: bool = False


@dataclass
class GenerationResult:
    """Texts and their provenance.

    Attributes
    ----------
    texts : list of str
        One per sample (or the n-best list of a beam search, best first), each beginning with the prompt exactly
        as given and ending before any stop string.
    logprobs : list of float
        Each text's log-probability under the model (natural log, summed over its generated tokens).
    novelty : list of float or None
        Share of each text's n-grams absent from the model's training corpus (the copy check), or None when the
        model carries no n-gram index or the text is shorter than one n-gram.
    seed : int
        The seed actually used (drawn at random when none was given), so any result can be made again.
    params : dict
        Every setting that produced it (mode defaults filled in), plus the model's name and weight hash.
    notes : list of str
        Warnings worth showing (e.g. prompt characters the model has never seen).
    """

    texts: list[str]
    logprobs: list[float]
    novelty: list[float | None]
    seed: int
    params: dict[str, Any]
    notes: list[str] = field(default_factory=list)


class _Prepared:
    """Everything a search needs for one request: primed state, first logits, processors, stop test."""

    def __init__(self, generator: Generator, prompt: str, config: GenerationConfig, raw: bool = False) -> None:
        self.config = config
        self.tidy = generator.tidy and not raw
        self.settings = config.resolved()
        self.seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        self.prompt = prompt
        self.prompt_ids, self.shown, self.notes = generator._prompt_ids(prompt)
        tok = generator.tokenizer
        banned = list(config.banned)
        if tok.unk_id is not None:
            banned.append(tok.unk_id)  # never write the unknown symbol
        too_big = [b for b in banned if b >= tok.vocab_size]
        if too_big:
            raise StudioError(f"banned token id {too_big[0]} is outside the vocabulary (0..{tok.vocab_size - 1})")
        samples = self.config.samples_tokens
        self.rules, self.drawing = build_processors(
            repetition_penalty=config.repetition_penalty, no_repeat_ngram=config.no_repeat_ngram, banned=banned,
            masks=generator.masks, temperature=self.settings["temperature"] if samples else None,
            top_k=self.settings["top_k"] if samples else None, top_p=self.settings["top_p"] if samples else None)
        self.stop = generator._stop_test(config.stop)
        self.random = torch.Generator(device=generator.device).manual_seed(self.seed)
        rows = {"sample": config.num_samples, "greedy": config.num_samples, "beam": config.beams,
                "diverse_beam": config.beams}.get(config.mode, config.beams * (self.settings["branch_factor"] or 1))
        self.step, self.to_step_state = generator._stepper_for(rows)


class Generator:
    """Serves generation requests from one loaded text model.

    Parameters
    ----------
    model : str or Path
        A shipped model's name or a model folder.
    device : str
        ``cpu`` (default), ``cuda``, ``mps`` or ``auto``.
    masks : list of TokenMask, optional
        Extra rules on what may come next, applied in every mode (the music models use this for grammar and range).
    """

    def __init__(self, model: str | Path, device: str = "cpu", masks: list | None = None) -> None:
        self.device = pick_device(device)
        require_text_card(read_card(resolve_model(model)), model)  # a music model: name the command it belongs to
        self.loaded: LoadedModel = load_model(model, device=self.device)
        self.ngram_index = corpus_index(self.loaded.extras, self.loaded.path)  # the copy check, None without one
        self.name = str(model)
        self.model_hash = self.loaded.card.get("weights", {}).get("sha256", "")[:16]
        self.masks = list(masks or [])
        self._steppers = StepperCache(self.loaded.model)
        # A model that learned Wikipedia's scaffolding says so in its card: its texts end on whole sentences and
        # keep only the headings that text follows (GenerationRequest.raw shows them untouched).
        self.tidy = self.loaded.card.get("writing", {}).get("tidy") == "wikitext"

    @property
    def tokenizer(self):
        return self.loaded.tokenizer

    # -- the public surface ---------------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest | str = "", config: GenerationConfig | None = None
                 ) -> GenerationResult:
        """Run one request: ``generate(GenerationRequest(prompt, config))`` or ``generate(prompt, config)``."""
        prompt, config, raw = self._unpack(request, config)
        prep = _Prepared(self, prompt, config, raw)
        with torch.inference_mode():
            hypotheses = self._search(prep)
        return self._result(prep, hypotheses)

    def stream(self, request: GenerationRequest | str = "", config: GenerationConfig | None = None,
               on_result: Callable[[GenerationResult], None] | None = None) -> Iterator[str]:
        """Yield the text in pieces as it is produced: first the prompt, then the continuation.

        Sampling and greedy modes stream token by token (one sample only); beam modes can only know their best
        text at the end, so they yield it whole. The pieces join to ``generate(request).texts[0]``; ``on_result``
        receives that whole result (seed, log-probability, novelty) when the text is complete, so nothing has to be
        generated twice to record it.
        """
        prompt, config, raw = self._unpack(request, config)
        if config.mode in ("sample", "greedy") and config.num_samples > 1:
            raise StudioError("streaming shows one text at a time: use --num-samples 1 (or drop --stream)")
        prep = _Prepared(self, prompt, config, raw)
        if config.mode not in ("sample", "greedy"):
            result = self.generate(GenerationRequest(prompt, config, raw))
            if on_result is not None:
                on_result(result)
            yield result.texts[0]
            return
        hold = max((len(s) for s in config.stop), default=1) - 1  # a stop string may be arriving
        sent = 0
        # Inference mode is per thread, and a web server may resume this generator in another thread after each
        # yield: enter it around every step rather than across the yields.
        with torch.inference_mode():
            sampler = self._sampler(prep)
            steps = iter(sampler)
        while True:
            with torch.inference_mode():
                if next(steps, None) is None:
                    break
                text = self._text(prep, sampler.seq[0, sampler.prompt_len: sampler.prompt_len
                                                    + sampler.produced].tolist(), finished=False)
            safe = len(text) - hold
            while safe > sent and text[safe - 1] == "\ufffd":  # half a multi-byte character: wait for the rest
                safe -= 1
            if safe > sent:
                yield text[sent:safe]
                sent = safe
        with torch.inference_mode():
            result = self._result(prep, sampler.hypotheses())
        if on_result is not None:
            on_result(result)
        final = result.texts[0]
        if len(final) > sent:
            yield final[sent:]

    # -- internals ------------------------------------------------------------------------------------------------
    @staticmethod
    def _unpack(request: GenerationRequest | str, config: GenerationConfig | None
                ) -> tuple[str, GenerationConfig, bool]:
        if isinstance(request, GenerationRequest):
            return request.prompt, request.config, request.raw
        return request, config or GenerationConfig(), False

    def _prompt_ids(self, prompt: str) -> tuple[list[int], int, list[str]]:
        """Token ids to prime with, how many of them belong to the shown prompt, and notes."""
        tok = self.tokenizer
        notes = []
        ids = tok.encode(prompt) if prompt else []
        if tok.last_unknown:
            notes.append("prompt: " + tok.unknown_report())
        if ids:
            return ids, len(ids), notes
        # An empty prompt still needs one token to start from: a newline reads as "the start of a passage".
        start = tok.encode("\n")
        return (start if start and start[0] != tok.unk_id else [0 if tok.unk_id is None else 1]), 0, notes

    def _stop_test(self, stops: list[str]):
        """A ``stop(seq, prompt_len)`` test that decodes each row's newest tokens and looks for a stop string."""
        if not stops:
            return None
        window = max(len(s) for s in stops) + 2  # every token is at least one character, so this many suffice

        def stop(seq: torch.Tensor, prompt_len: int) -> torch.Tensor:
            tails = seq[:, max(prompt_len, seq.shape[1] - window):].tolist()
            return torch.tensor([any(s in self.tokenizer.decode(tail) for s in stops) for tail in tails])

        return stop

    def _step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One token through the module itself (GPUs: cuDNN's kernels are the fast path there)."""
        logits, state = self.loaded.model(tokens, state)
        return logits[:, -1, :], state

    def _stepper_for(self, rows: int):
        """The step function for a search over ``rows`` rows, and the converter of a primed state for it."""
        if self.device.type != "cpu":
            return self._step, lambda state: state
        stepper = self._steppers.for_rows(rows)
        return stepper, stepper.convert_state

    @staticmethod
    def _select(state: Any, rows: torch.Tensor) -> Any:
        return tuple(s.index_select(1, rows) for s in state)

    def _prime(self, prep: _Prepared) -> tuple[torch.Tensor, Any, torch.Tensor]:
        """Run the whole prompt in one forward pass: (prefix (1, P), state, next-token logits (1, vocab))."""
        prefix = torch.tensor([prep.prompt_ids], dtype=torch.long, device=self.device)
        logits, state = self.loaded.model(prefix)
        return prefix, prep.to_step_state(state), logits[:, -1, :]

    def _sampler(self, prep: _Prepared) -> Sampler:
        prefix, state, first = self._prime(prep)
        k = prep.config.num_samples
        rows = torch.zeros(k, dtype=torch.long, device=self.device)
        return Sampler(prep.step, self._select(state, rows), first.expand(k, -1), prefix.expand(k, -1),
                       prep.config.length, prep.rules, prep.drawing, prep.random,
                       greedy=prep.config.mode == "greedy", stop=prep.stop)

    def _search(self, prep: _Prepared) -> list[Hypothesis]:
        c, s = prep.config, prep.settings
        if c.mode in ("sample", "greedy"):
            sampler = self._sampler(prep)
            for _ in sampler:
                pass
            return sampler.hypotheses()
        prefix, state, first = self._prime(prep)
        if c.mode == "stochastic_beam":
            return stochastic_beam_search(prep.step, self._select, state, first, prefix, c.length, prep.rules,
                                          prep.drawing, c.beams, s["branch_factor"], s["steps_per_iteration"],
                                          prep.random, s["length_penalty"], prep.stop, c.num_samples)
        return beam_search(prep.step, self._select, state, first, prefix, c.length, prep.rules, c.beams,
                           groups=c.beam_groups, diversity=s["diversity"] or 0.0,
                           length_penalty=s["length_penalty"], stop=prep.stop, num_return=c.num_samples)

    def _text(self, prep: _Prepared, new_ids: list[int], finished: bool = True) -> str:
        """The prompt exactly as typed, followed by the decoded continuation, cut before any stop string (and tidied
        when the model asks for it: only what can no longer change while the text is not ``finished``).

        Decoding prompt and continuation together gives word tokenizers the right spacing at the seam; the
        decoded prompt is then swapped for the original, so unknown prompt characters are kept as typed.
        """
        tok = self.tokenizer
        if prep.shown:
            whole = tok.decode(prep.prompt_ids + new_ids)
            head = tok.decode(prep.prompt_ids)
            continuation = whole[len(head):] if whole.startswith(head) else tok.decode(new_ids)
        else:
            continuation = tok.decode(new_ids)
        cuts = [continuation.find(s) for s in prep.config.stop if s in continuation]
        if cuts:
            continuation = continuation[: min(cuts)]
        if prep.tidy:
            continuation = tidy_prose(continuation, finished)
        return prep.prompt + continuation

    def _novelty(self, ids: list[int]) -> float | None:
        index = self.ngram_index
        if index is None or len(ids) < index.n:
            return None
        value = index.novelty(ids)
        return None if value is None else float(value)

    def _result(self, prep: _Prepared, hypotheses: list[Hypothesis]) -> GenerationResult:
        texts = [self._text(prep, h.tokens) for h in hypotheses]
        params = {"model": self.name, "model_sha256": self.model_hash, "prompt": prep.prompt, **prep.settings,
                  "tidy": prep.tidy, "seed": prep.seed}
        return GenerationResult(texts=texts, logprobs=[h.logprob for h in hypotheses],
                                novelty=[self._novelty(h.tokens) for h in hypotheses], seed=prep.seed,
                                params=params, notes=list(prep.notes))
