"""Penn Treebank word-level perplexity of Zaremba et al.'s (2014) SMALL LSTM, trained with Studio's Trainer.

SMALL is 2 x 200 LSTM, embedding 200, no dropout, batch 20, BPTT 20, 13 epochs (published test perplexity 114.5;
MEDIUM, 2 x 650 with dropout 0.5, 82.7, needs a GPU). ``--optimizer sgd`` (the default) is Zaremba's recipe on the
Trainer: plain SGD at lr 1 on the loss summed over the 20 steps of a window, halved every epoch after the 4th,
gradient norm clipped at 5. The Trainer averages the loss over the window's 20 x 20 tokens, which divides the
gradient by 20 relative to Zaremba's sum-over-time/mean-over-batch loss, so the same updates are lr 20 and clip 0.25
here (pytorch/examples uses the same two numbers for the same reason). ``--optimizer adamw`` is Studio's default
optimiser instead: AdamW lr 3e-3 without weight decay, clip 5, the rate halved whenever validation stops improving.

PTB is already tokenized (10k vocabulary, ``<unk>``, one sentence per line). The stream is each line's words plus an
end-of-sentence token, exactly as pytorch/examples counts words (test: 82,430). The vocabulary is built from the
training file; ``<eos>`` is stored as the word tokenizer's newline token and ``<unk>`` is its unknown id 0, so the
checkpoint decodes to readable text. Test perplexity scores every test word once (one row, state carried,
an ``<eos>`` in front so the first word is predicted too).

    python benchmarks/ptb.py [--optimizer sgd|adamw] [--epochs 13] [--minutes 0] [--threads 1] [--out runs/ptb-small]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import torch

from studio.config import ModelConfig, TrainConfig
from studio.evaluate import evaluate_loss
from studio.loading import load_model
from studio.tokenizers import WordTokenizer
from studio.train import Trainer, TrainEvent

EOS = "\n"  # the word tokenizer's newline token stands for PTB's <eos>
PUBLISHED = {"small (Zaremba et al. 2014, test)": 114.5, "medium (Zaremba et al. 2014, test)": 82.7}


def read_words(path: Path) -> list[str]:
    """PTB tokens of one split: each line's whitespace-separated words, then ``<eos>`` (as ``EOS``)."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words.extend(line.split())
        words.append(EOS)
    return words


def build_tokenizer(train_words: list[str]) -> WordTokenizer:
    """Vocabulary = the training split's words, most frequent first; ``<unk>`` becomes id 0."""
    counts: dict[str, int] = {}
    for w in train_words:
        counts[w] = counts.get(w, 0) + 1
    return WordTokenizer(sorted(counts, key=lambda w: (-counts[w], w)))


def encode(words: list[str], tokenizer: WordTokenizer) -> torch.Tensor:
    index = {w: i + 1 for i, w in enumerate(tokenizer.words)}  # id 0 is <unk>
    return torch.tensor([index.get(w, 0) for w in words], dtype=torch.long)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/corpora/ptb")
    parser.add_argument("--out", default="runs/ptb-small")
    parser.add_argument("--minutes", type=float, default=0.0, help="wall-clock training budget (0: none)")
    parser.add_argument("--epochs", type=int, default=13)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"])
    parser.add_argument("--lr", type=float, default=None, help="default 20 for sgd, 3e-3 for adamw")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    train_words = read_words(data / "ptb.train.txt")
    tokenizer = build_tokenizer(train_words)
    train, valid = encode(train_words, tokenizer), encode(read_words(data / "ptb.valid.txt"), tokenizer)
    test_words = read_words(data / "ptb.test.txt")
    test = encode([EOS, *test_words], tokenizer)
    print(f"vocabulary {tokenizer.vocab_size}, tokens train {train.numel():,} valid {valid.numel():,} "
          f"test {len(test_words):,}", flush=True)
    batch, bptt = 20, 20
    steps_per_epoch = (train.numel() - 1) // (batch * bptt)
    mconf = ModelConfig(vocab_size=tokenizer.vocab_size, cell="lstm", num_layers=2, embedding_size=200,
                        hidden_size=200)
    budget = {"max_steps": steps_per_epoch * args.epochs, "minutes": args.minutes, "device": "cpu"}
    if args.optimizer == "sgd":
        tconf = TrainConfig(batch_size=batch, seq_len=bptt, optimizer="sgd", lr=args.lr or 20.0, weight_decay=0.0,
                            grad_clip=0.25, warmup_steps=0, schedule="step", decay_start=4 * steps_per_epoch,
                            decay_every=steps_per_epoch, decay_factor=0.5, eval_every=steps_per_epoch, **budget)
    else:
        tconf = TrainConfig(batch_size=batch, seq_len=bptt, lr=args.lr or 3e-3, weight_decay=0.0, grad_clip=5.0,
                            warmup_steps=100, schedule="plateau", plateau_factor=0.5, plateau_patience=0,
                            eval_every=steps_per_epoch // 2, **budget)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)

    def report(event: TrainEvent) -> None:
        if event.kind == "eval":
            d = event.data
            print(f"step {d['step']:6d} epoch {d['step'] / steps_per_epoch:5.2f} valid ppl "
                  f"{d['valid_perplexity']:7.2f}  {d['elapsed_s']:6.0f} s", flush=True)

    started = time.time()
    trainer = Trainer(mconf, tconf, tokenizer, train, valid, out, card={"name": "ptb-small", "corpus": "PTB"},
                      callbacks=[report], ngram_index=False)
    result = trainer.fit()
    loaded = load_model(result.best_path, device="cpu")
    nats, count = evaluate_loss(loaded.model, test, batch_size=1, seq_len=500, device="cpu")
    valid_nats, valid_count = evaluate_loss(loaded.model, torch.cat([test[:1], valid]), batch_size=1, seq_len=500)
    summary = {"optimizer": args.optimizer, "lr": tconf.lr, "epochs": round(result.steps / steps_per_epoch, 2),
               "steps": result.steps,
               "stop_reason": result.stop_reason, "train_seconds": round(result.elapsed_s),
               "valid_ppl": math.exp(valid_nats / valid_count), "test_ppl": math.exp(nats / count),
               "test_words": count, "parameters": loaded.model.num_parameters(),
               "total_seconds": round(time.time() - started)}
    print(json.dumps(summary, indent=1))
    print("\n| model | test perplexity | note |\n| --- | --- | --- |")
    print(f"| Studio 2x200 LSTM ({args.optimizer}, {summary['epochs']} epochs, {summary['train_seconds']} s CPU) | "
          f"{summary['test_ppl']:.1f} | this run |")
    for name, value in PUBLISHED.items():
        print(f"| {name} | {value} | as published |")


if __name__ == "__main__":
    main()
