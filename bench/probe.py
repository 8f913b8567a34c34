"""Probing speed (issue 13, item 5): all 13 layers of multilingual-e5-small on EWT train.

One cold run of :func:`crossling.training.probing.probe` (empty word-vector cache), timed by
phase from the rows' provenance (``timings_s``): extracting the training words, extracting the
test sets' words, fitting the 13 x 2 probes (tagger and control task), scoring. Prints the
phases, the accuracy table and writes the rows as CSV (``--out``) for docs/probing.md.

    python bench/probe.py --data ../shared/data            # 4,000 EWT sentences (default)
    python bench/probe.py --data ../shared/data --max-train-sentences all --targets fr
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from crossling.analysis.probing import layer_table, probe_frame
from crossling.results import write_rows_csv
from crossling.training.probing import probe


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--model", default=str(Path.home() / ".cache/crossling/multilingual-e5-small"))
    p.add_argument("--max-train-sentences", default="4000",
                   help="training sentences or 'all' (default 4000)")
    p.add_argument("--targets", nargs="+", default=["ar", "de", "fr", "hi", "ru", "zh"])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", default=None, help="write the rows here (CSV)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    limit = None if args.max_train_sentences == "all" else int(args.max_train_sentences)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        rows = probe(model=args.model, data=Path(args.data) / "ud", targets=args.targets,
                     max_train_sentences=limit, cache_dir=cache, device="cpu")
    total = time.perf_counter() - start
    prov = rows[0].provenance
    t = prov["timings_s"]
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print(f"training: {prov['n_train_sentences']} sentences, {prov['n_train_words']} words; "
          f"test sets: {len(args.targets) + 1} ({', '.join(['en', *args.targets])})")
    print(f"total {total:.1f} s (incl. loading and reading data); train words "
          f"{t['train_words_s']:.1f} s, test words {t['test_words_s']:.1f} s, 13 x 2 probes "
          f"{t['fit_s']:.1f} s, scoring {t['score_s']:.1f} s")
    print(f"L-BFGS iterations per layer (tagger, control): {prov['lbfgs_iterations']}")
    print(f"probing all layers on EWT train (train words + probes): "
          f"{t['train_words_s'] + t['fit_s']:.1f} s")
    print(layer_table(probe_frame(rows)).to_string(float_format=lambda v: f"{v:.1f}"))
    sel = layer_table(probe_frame(rows), "selectivity").drop(index="majority", errors="ignore")
    print(sel.to_string(float_format=lambda v: f"{v:.1f}"))
    if args.out:
        write_rows_csv(args.out, rows)


if __name__ == "__main__":
    main()
