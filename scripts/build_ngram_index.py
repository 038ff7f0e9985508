"""Add (or rebuild) the training corpus's n-gram index in an existing model bundle, without retraining.

    python scripts/build_ngram_index.py --model shakespeare --corpus ../shared/corpora/tinyshakespeare/input.txt

The corpus must be the one the model was trained on (its sha256 must match the card's); the index is built from
the same training split the run used (read and split by ``studio.text.training.prepare_text``, as in training),
encoded with the model's own tokenizer, exactly as the Trainer builds it for new runs. The bundle is rewritten
atomically with the index as ``ngrams.safetensors``; the weights file keeps its exact bytes (checked before and
after), and files beside the bundle (``loss.png``) are kept.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys

from safetensors.torch import save

from studio.checkpoint import Bundle, read_bundle, read_card, sha256_file, write_bundle
from studio.config import TokenizerConfig
from studio.errors import StudioError
from studio.loading import load_model, resolve_model
from studio.text.ngrams import MAX_N, NGRAMS_EXTRA, NgramIndex, corpus_index, default_ngram_size
from studio.text.training import prepare_text
from studio.tokenizers import TextTokenizer


def build(model: str, corpus: str, n: int | None = None, command: str = "") -> dict:
    """Rebuild the index of ``model`` from ``corpus`` and rewrite its bundle; returns the card's index entry."""
    path = resolve_model(model)
    bundle = read_bundle(path)
    card = bundle.card
    try:
        expected_sha = card["corpus"]["sha256"]
        valid_fraction = float(card["train_config"]["valid_fraction"])
        tokenizer = TextTokenizer.from_dict(card["tokenizer"])
    except (KeyError, TypeError) as err:
        raise StudioError(f"the card of {path} lacks what is needed to rebuild the training split ({err})") from err
    # The same reading and split as training (a run with --valid-corpus records it in the card).
    data = prepare_text(corpus, TokenizerConfig(), valid_fraction, tokenizer=tokenizer,
                        valid_corpus=card["corpus"].get("valid_corpus"))
    if data.report.sha256 != expected_sha:
        raise StudioError(f"corpus {corpus} is not the one {path} was trained on (sha256 "
                          f"{data.report.sha256[:12]}..., the card says {expected_sha[:12]}...)")
    ids = data.train.tolist()
    expected_tokens = card["corpus"].get("train_tokens")
    if expected_tokens is not None and len(ids) != int(expected_tokens):
        raise StudioError(f"the training split encodes to {len(ids)} tokens, the card says {expected_tokens}")
    index = NgramIndex.build(ids, n or default_ngram_size(tokenizer.kind))

    # The weights are written again from the tensors read: make sure that gives the very same bytes first.
    weights_sha = card["weights"]["sha256"]
    if hashlib.sha256(save({k: v.contiguous() for k, v in bundle.weights.items()})).hexdigest() != weights_sha:
        raise StudioError(f"re-serialising the weights of {path} would change their bytes; nothing was written")
    card = dict(card, ngram_index={**index.info(), "command": command})
    extras = {**bundle.extras, NGRAMS_EXTRA: index.to_tensors()}
    write_bundle(bundle.path or path, Bundle(card, bundle.weights, extras=extras), keep_companions=True)

    written = read_card(path)
    if written["weights"]["sha256"] != weights_sha or sha256_file(path / "model.safetensors") != weights_sha:
        raise StudioError(f"the weights file of {path} changed while rewriting it")  # pragma: no cover
    loaded = load_model(path)
    stored = corpus_index(loaded.extras, path)
    assert stored is not None and stored.count == index.count
    return written["ngram_index"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="shipped model name or model folder")
    parser.add_argument("--corpus", required=True, help="the corpus file or folder the model was trained on")
    parser.add_argument("--n", type=int, default=None,
                        help=f"n-gram length in tokens, 1..{MAX_N} (default: 8 for char, 4 for word/bpe tokenizers)")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "scripts/build_ngram_index.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        info = build(args.model, args.corpus, args.n, command)
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{resolve_model(args.model)}: n={info['n']}, {info['count']:,} distinct n-grams, "
          f"{info['bytes'] / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
