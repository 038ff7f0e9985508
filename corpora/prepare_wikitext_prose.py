"""Write WikiText-2 as readable prose: ``python corpora/prepare_wikitext_prose.py [SRC] [DEST]``.

SRC holds WikiText-2's ``train.txt``, ``valid.txt`` and ``test.txt`` (default ../shared/corpora/wikitext-2); DEST
(default runs/data/wikitext-2-prose) gets the same three files, detokenized by ``studio.text.wikitext``. The shipped
prose model is trained on DEST/train.txt and validated on DEST/valid.txt; its test perplexity is computed on
DEST/test.txt and reported per WikiText word (benchmarks/wikitext_perplexity.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from studio.text.wikitext import detokenize_wikitext


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpora/wikitext-2")
    dest = Path(sys.argv[2] if len(sys.argv) > 2 else "runs/data/wikitext-2-prose")
    dest.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        text = (src / f"{split}.txt").read_text(encoding="utf-8")
        (dest / f"{split}.txt").write_text(detokenize_wikitext(text), encoding="utf-8")
        print(f"{split}: {len(text):,} -> {len((dest / f'{split}.txt').read_text(encoding='utf-8')):,} characters")


if __name__ == "__main__":
    main()
