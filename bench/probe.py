"""Probing speed (issue 13, item 5): all 13 layers of multilingual-e5-small on EWT train.

First, one objective evaluation of the tagger and control probe on random features of EWT's
shape (204,577 words x 384, 17 classes each), side by side: the pass crossling runs (loss and
gradients written out, ``crossling.probing.fit._SharedPass``) against the autograd
graph of ``torch.nn.functional.cross_entropy`` it replaced.

Then one cold run of ``crossling.workflows.probe.probe`` (empty word-vector cache), timed by
phase from the rows' provenance (``timings_s``): extracting the training words, extracting the
test sets' words, fitting the 13 x 2 probes (tagger and control task), scoring; with ``--warm``
a second run on the same cache ("once vectors are cached", as the similarity goal reads). Prints
the phases, the accuracy table and writes the rows as CSV (``--out``) for docs/probing.md.

    python bench/probe.py --data ../shared/data            # 4,000 EWT sentences (default)
    python bench/probe.py --data ../shared/data --max-train-sentences all --targets fr --warm
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from crossling.analysis.probing import layer_table, probe_frame
from crossling.probing.fit import _SharedPass
from crossling.probing.settings import ProbeSettings
from crossling.results import ScoreRow, write_rows_csv
from crossling.workflows.probe import probe


def time_pass(n: int = 204_577, d: int = 384, k: int = 17, repeats: int = 5) -> None:
    """One evaluation of two probes' objectives, crossling's pass vs autograd, interleaved."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, d, generator=gen)
    labels = [torch.randint(0, k, (n,), generator=gen) for _ in range(2)]
    params = [(torch.randn(d, k, generator=gen) * 0.05, torch.zeros(k)) for _ in range(2)]
    shared = _SharedPass(z, labels, l2=1e-4)

    def written_out() -> None:
        shared._asked.update(enumerate(params))
        shared._evaluate([0, 1])

    def autograd() -> None:
        w = torch.cat([p[0] for p in params], 1).requires_grad_()
        b = torch.cat([p[1] for p in params]).requires_grad_()
        logits = z @ w + b
        loss = sum(torch.nn.functional.cross_entropy(logits[:, j * k:(j + 1) * k], y)
                   + 0.5e-4 * (w[:, j * k:(j + 1) * k] ** 2).sum()
                   for j, y in enumerate(labels))
        loss.backward()  # type: ignore[union-attr]

    times: dict[str, list[float]] = {"written out": [], "autograd": []}
    for _ in range(repeats + 1):  # the first round warms up, not counted
        for label, fn in (("written out", written_out), ("autograd", autograd)):
            t0 = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t0)
    best = {label: min(ts[1:]) for label, ts in times.items()}
    print(f"one evaluation of both probes on {n} x {d} (random), best of {repeats} interleaved: "
          f"written out {best['written out'] * 1e3:.0f} ms, autograd "
          f"{best['autograd'] * 1e3:.0f} ms: {best['autograd'] / best['written out']:.2f}x")


def run_once(args: argparse.Namespace, limit: int | None, cache: str, label: str,
             ) -> list[ScoreRow]:
    """One :func:`probe` run on ``cache``, its phases printed."""
    start = time.perf_counter()
    settings = ProbeSettings(targets=args.targets, max_train_sentences=limit, device="cpu")
    rows = probe(args.model, Path(args.data) / "ud", settings, cache_dir=cache)
    total = time.perf_counter() - start
    prov = rows[0].provenance
    t = prov["timings_s"]
    print(f"{label}: total {total:.1f} s (incl. loading and reading data); train words "
          f"{t['train_words_s']:.1f} s, test words {t['test_words_s']:.1f} s, 13 x 2 probes "
          f"{t['fit_s']:.1f} s, scoring {t['score_s']:.1f} s")
    print(f"{label}: probing all layers on EWT train (train words + probes): "
          f"{t['train_words_s'] + t['fit_s']:.1f} s (goal of issue 13: under 300 s)")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--model", default=str(Path.home() / ".cache/crossling/multilingual-e5-small"))
    p.add_argument("--max-train-sentences", default="4000",
                   help="training sentences or 'all' (default 4000)")
    p.add_argument("--targets", nargs="+", default=["ar", "de", "fr", "hi", "ru", "zh"])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", default=None, help="write the rows here (CSV)")
    p.add_argument("--warm", action="store_true",
                   help="a second run on the same word-vector cache, timed apart")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    limit = None if args.max_train_sentences == "all" else int(args.max_train_sentences)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    time_pass()
    with tempfile.TemporaryDirectory() as cache:
        rows = run_once(args, limit, cache, "cold (empty cache)")
        if args.warm:
            rows = run_once(args, limit, cache, "warm (word vectors cached)")
    prov = rows[0].provenance
    print(f"training: {prov['n_train_sentences']} sentences, {prov['n_train_words']} words; "
          f"test sets: {len(args.targets) + 1} ({', '.join(['en', *args.targets])})")
    print(f"L-BFGS iterations per layer (tagger, control): {prov['lbfgs_iterations']}")
    print(layer_table(probe_frame(rows)).to_string(float_format=lambda v: f"{v:.1f}"))
    sel = layer_table(probe_frame(rows), "selectivity").drop(index="majority", errors="ignore")
    print(sel.to_string(float_format=lambda v: f"{v:.1f}"))
    if args.out:
        write_rows_csv(args.out, rows)


if __name__ == "__main__":
    main()
