"""Word-level perplexity of the shipped prose model on WikiText-2, comparable with published word-level results.

The prose model reads WikiText-2 detokenized into prose (corpora/prepare_wikitext_prose.py) with a byte-level BPE,
so its own unit is the BPE token. Perplexity per WikiText word is ``exp(total nats / words)``, where ``total`` is
the model's summed loss over the whole prose split and ``words`` counts the original tokenized split as
pytorch/examples does (each line's words plus one end-of-line token). Both texts carry the same content, so this is
the figure to set beside published word-level perplexities (pytorch/examples users report about 87-100 on test).

    python corpora/prepare_wikitext_prose.py
    python benchmarks/wikitext_perplexity.py [--model prose] [--split test]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from studio.loading import load_model, pick_device
from studio.text.corpus import to_tensor
from studio.text.wikitext import wikitext_word_count
from studio.training.evaluate import evaluate_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="prose")
    parser.add_argument("--split", default="test", choices=("valid", "test"))
    parser.add_argument("--prose-dir", default="runs/data/wikitext-2-prose")
    parser.add_argument("--wikitext-dir", default="../shared/corpora/wikitext-2")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    loaded = load_model(args.model, device=device)
    prose = Path(args.prose_dir, f"{args.split}.txt").read_text(encoding="utf-8")
    words = wikitext_word_count(Path(args.wikitext_dir, f"{args.split}.txt").read_text(encoding="utf-8"))
    ids = loaded.tokenizer.encode(prose)
    nats, scored = evaluate_loss(loaded.model, to_tensor(ids), batch_size=32, seq_len=256, device=device)
    # evaluate_loss leaves out the last few tokens that do not fill a row; scale to the whole text's tokens.
    nats_all = nats * (len(ids) - 1) / scored
    result = {"benchmark": "wikitext_perplexity", "model": args.model, "split": args.split,
              "bpe_tokens": len(ids), "wikitext_words": words, "nats_per_bpe_token": nats / scored,
              "bpe_token_perplexity": math.exp(nats / scored), "word_perplexity": math.exp(nats_all / words),
              "bits_per_char": nats / scored * (len(ids) / len(prose)) / math.log(2)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
