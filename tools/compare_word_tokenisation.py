"""Compare crossling's word tokenisation with ``is_split_into_words`` on UD treebanks.

    python tools/compare_word_tokenisation.py MODEL UD_DIR [--per-file 3000] [--max-length 128]

For every ``*.conllu`` under ``UD_DIR`` (first ``--per-file`` sentences of each), counts the
sentences whose ids, word of each token, or first/last representative token differ between
`crossling.models.words.tokenize_words` (running text) and tokenising each word on its own.
For tokenizers that mark every word (BERT, XLM-R, e5) it must print 0 differing; for
byte-level BPE (GPT-2, Llama-3) nearly every sentence differs, which is the point of the change.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from crossling.data.conllu import iter_conllu
from crossling.models.encoder import load_tokenizer, word_positions
from crossling.models.words import tokenize_words


def _differs(tok: Any, sentences: list[list[str]], max_length: int) -> int:
    old = tok(sentences, is_split_into_words=True, truncation=True, max_length=max_length)
    bad = 0
    for b, row in enumerate(tokenize_words(tok, sentences, max_length)):
        ids, tokens = old.word_ids(b), old.tokens(b)
        bad += (list(old["input_ids"][b]) != row.input_ids or ids != row.word_ids
                or any(word_positions(ids, tokens, p) != word_positions(row.word_ids,
                                                                          row.tokens, p)
                       for p in ("first", "last")))
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("ud_dir", type=Path)
    parser.add_argument("--per-file", type=int, default=3000)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    tok = load_tokenizer(args.model)
    files = sorted(args.ud_dir.rglob("*.conllu"))
    total = differ = 0
    start = time.perf_counter()
    for path in files:
        sentences = [list(s.words) for s in iter_conllu(path)][:args.per_file]
        for i in range(0, len(sentences), 512):
            differ += _differs(tok, sentences[i:i + 512], args.max_length)
        total += len(sentences)
    print(f"{len(files)} files, {total} sentences, {differ} differ "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
