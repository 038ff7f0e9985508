"""The terminal face of training events: a tqdm progress bar with loss, tokens/s and ETA, and eval lines."""

from __future__ import annotations

import sys

from studio.training.trainer import TrainEvent


class ProgressBar:
    """A training callback that draws a progress bar on stderr and prints each evaluation above it."""

    def __init__(self, disable: bool | None = None) -> None:
        self.bar = None
        self.disable = (not sys.stderr.isatty()) if disable is None else disable
        self.last_print = 0

    def __call__(self, event: TrainEvent) -> None:
        from tqdm.auto import tqdm

        d = event.data
        if event.kind == "start":
            self.bar = tqdm(total=event.max_steps, initial=event.step, unit="step", dynamic_ncols=True,
                            disable=self.disable, file=sys.stderr)
            resumed = " (resumed)" if d.get("resumed") else ""
            self._write(f"training {d['parameters']:,} parameters on {d['device']}{resumed}: "
                        f"{d['train_tokens']:,} train / {d['valid_tokens']:,} validation tokens -> {d['out_dir']}")
        elif event.kind == "step" and self.bar is not None:
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix(loss=f"{d['loss']:.3f}", tok_s=f"{d['tokens_per_s']:,.0f}",
                                 eta=_clock(d["eta_s"]), refresh=False)
            if self.disable and event.step - self.last_print >= max(1, event.max_steps // 20):
                # Without a terminal (CI, logs) print a plain line now and then instead of redrawing a bar.
                self.last_print = event.step
                print(f"step {event.step}/{event.max_steps} loss {d['loss']:.3f} "
                      f"{d['tokens_per_s']:,.0f} tok/s eta {_clock(d['eta_s'])}", file=sys.stderr)
        elif event.kind == "base_eval":
            self._write(f"base model on this validation data: {d['valid_nats_per_token']:.4f} nats/token")
        elif event.kind == "eval":
            mark = " *best*" if d.get("improved") else ""
            bpc = f", {d['valid_bits_per_char']:.3f} bits/char" if "valid_bits_per_char" in d else ""
            self._write(f"step {event.step}: validation {d['valid_nats_per_token']:.4f} nats/token{bpc}, "
                        f"perplexity {d['valid_perplexity']:.2f}{mark}")
        elif event.kind == "end" and self.bar is not None:
            self.bar.close()

    def _write(self, line: str) -> None:
        from tqdm.auto import tqdm

        tqdm.write(line, file=sys.stderr)


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
