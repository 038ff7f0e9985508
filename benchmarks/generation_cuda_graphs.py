"""Single-stream generation on a GPU with and without CUDA graphs (the shipped Shakespeare model), one run.

Three loops write the same number of tokens after the same prompt, on the same device:

* ``generator``: ``Generator.generate`` (sampling at temperature 0.8), what a user of ``studio write`` gets;
* ``eager``: one ``SingleStepper`` step and a Gumbel-max draw per token, launched from Python kernel by kernel;
* ``graph``: that same step and draw captured once as a CUDA graph over static buffers (token, state, noise) and
  replayed per token, so a token costs one graph launch instead of some thirty kernel launches.

``eager`` and ``graph`` draw from the same pre-drawn uniform noise, so they must write identical tokens (checked
and reported): their ratio is launch overhead alone. Repetitions alternate between the loops; medians are reported.
On the CPU (``--device cpu``) nothing is captured: the static-buffer loop runs eagerly and is checked against
``eager``, which is how the test suite keeps this script honest on machines without a GPU.

    python benchmarks/generation_cuda_graphs.py --device cuda [--length 500] [--reps 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch

from studio.config import GenerationConfig
from studio.models import SingleStepper
from studio.text.generator import Generator

Step = Callable[[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor], tuple[torch.Tensor, tuple[torch.Tensor, ...]]]


def make_step(stepper: SingleStepper, temperature: float) -> Step:
    """One token: (token (1, 1) long, state, noise (1, vocab) uniform) -> (next token (1, 1), new state).

    Gumbel-max on given noise is an exact draw from softmax(logits / temperature) that needs no RNG call inside
    the step, so a captured graph and an eager loop fed the same noise draw the same tokens."""
    def step(token: torch.Tensor, state: tuple[torch.Tensor, ...], noise: torch.Tensor):
        logits, new_state = stepper(token, state)
        gumbel = -torch.log(-torch.log(noise.clamp(1e-20, 1.0 - 1e-7)))
        return torch.argmax(logits / temperature + gumbel, dim=-1, keepdim=True), new_state
    return step


def eager_loop(step: Step, first: torch.Tensor, state: tuple[torch.Tensor, ...], noise: torch.Tensor) -> torch.Tensor:
    """Tokens (length,) drawn by calling ``step`` from Python once per token."""
    token, out = first, []
    for t in range(noise.shape[0]):
        token, state = step(token, state, noise[t:t + 1])
        out.append(token)
    return torch.cat(out).flatten()


class GraphLoop:
    """``step`` over static buffers: captured as a CUDA graph on a GPU, run eagerly elsewhere (same arithmetic)."""

    def __init__(self, step: Step, first: torch.Tensor, state: tuple[torch.Tensor, ...], vocab: int) -> None:
        self.token, self.state = first.clone(), tuple(s.clone() for s in state)
        self.noise = torch.zeros(1, vocab, device=first.device)
        self.step, self.graph = step, None
        if first.device.type == "cuda":
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm up off the capture stream, as torch.cuda.graph requires
                for _ in range(3):
                    self._body()
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self._body()

    def _body(self) -> None:
        token, state = self.step(self.token, self.state, self.noise)
        self.token.copy_(token)  # the outputs become the next step's inputs inside the graph
        for buffer, value in zip(self.state, state, strict=True):
            buffer.copy_(value)

    def run(self, first: torch.Tensor, state: tuple[torch.Tensor, ...], noise: torch.Tensor) -> torch.Tensor:
        """Tokens (length,) from ``first`` and ``state``, one replay per token."""
        self.token.copy_(first)
        for buffer, value in zip(self.state, state, strict=True):
            buffer.copy_(value)
        out = torch.empty(noise.shape[0], dtype=torch.long, device=first.device)
        for t in range(noise.shape[0]):
            self.noise.copy_(noise[t:t + 1])
            if self.graph is not None:
                self.graph.replay()
            else:
                self._body()
            out[t] = self.token[0, 0]
        return out


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shakespeare")
    parser.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu (a correctness check)")
    parser.add_argument("--length", type=int, default=500, help="new tokens per run")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    generator = Generator(args.model, device=args.device)
    model = generator.loaded.model.eval()
    stepper = SingleStepper(model)
    vocab = model.config.vocab_size
    first_id = generator.tokenizer.encode("A")[0]
    first = torch.tensor([[first_id]], device=device)
    with torch.inference_mode():  # the first step reads the prompt's "A" from the initial state
        state = tuple(s.contiguous() for s in model.initial_state(1, device))
        step = make_step(stepper, args.temperature)
        graph = GraphLoop(step, first, state, vocab)
        noise_source = torch.Generator(device=device).manual_seed(0)
        noise = torch.rand(args.length, vocab, generator=noise_source, device=device)
        drawn = eager_loop(step, first, state, noise)
        replayed = graph.run(first, state, noise)
        same = torch.equal(drawn, replayed)
        # Where they part (a kernel choice can differ between streams and flip a near-tie), for the report.
        first_mismatch = None if same else int((drawn != replayed).nonzero()[0, 0])
        sample = generator.tokenizer.decode([first_id, *drawn.tolist()])
        times: dict[str, list[float]] = {"generator": [], "eager": [], "graph": []}
        loops = {"generator": lambda: generator.generate("A", GenerationConfig(seed=1, length=args.length,
                                                                                temperature=args.temperature)),
                 "eager": lambda: eager_loop(step, first, state, noise),
                 "graph": lambda: graph.run(first, state, noise)}
        for rep in range(args.reps + 1):  # the first round warms up and is not counted
            for name, loop in loops.items():
                synchronize(device)
                start = time.perf_counter()
                loop()
                synchronize(device)
                if rep:
                    times[name].append(time.perf_counter() - start)
    rate = {name: args.length / statistics.median(t) for name, t in times.items()}
    result = {"benchmark": "generation_cuda_graphs", "model": args.model, "device": str(device),
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine(),
              "captured": graph.graph is not None, "tokens": args.length, "reps": args.reps,
              "torch": torch.__version__, "identical_tokens": same,
              "first_mismatch": first_mismatch, "sample": sample[:120],
              **{f"{name}_tokens_per_s": value for name, value in rate.items()},
              "graph_over_eager": rate["graph"] / rate["eager"],
              "graph_over_generator": rate["graph"] / rate["generator"]}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value:,.3f}" if isinstance(value, float) else f"{key:>28}: {value}")
    if not same:
        raise SystemExit(f"the graph loop drew other tokens than the eager loop from the same noise, from token "
                         f"{first_mismatch} on (timings above are still valid)")


if __name__ == "__main__":
    main()
