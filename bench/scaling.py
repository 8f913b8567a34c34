"""The GPU study's makespan on 1, 4 and 16 GPUs, from per-cell costs, and its critical path.

Run: ``python bench/scaling.py --data ../shared/data`` (writes docs/scaling-cells.csv and
docs/scaling.csv; docs/scaling.md quotes them and tests/experiments/test_schedule.py checks
that it does so faithfully).

Each cell's cost is its kind's estimate in sentence passes (``CellParams.cost()``), turned into
seconds with a measured CPU rate scaled by stated factors until a GPU is measured:

- ``--cpu-ms-per-pass`` 9.6: bench/RESULTS.md, issue 10: a POS cell of multilingual-e5-small,
  2,000 training sentences, 1 epoch, 19 x 300 test sentences (12,000 passes by ``cost()``)
  took 115 s on 2 CPU cores;
- ``--model-factor`` 4: bert-base-multilingual-cased (hidden 768, FFN 3,072) does ~4x the
  arithmetic of e5-small (hidden 384, FFN 1,536) per token;
- ``--gpu-speedup`` 35: one GPU against those 2 CPU cores, an assumption (about 1.1 ms per
  sentence pass of bert-base: 3 epochs of EWT's 12,500 sentences in about 2 minutes).

Every cell takes one GPU (the default ``resources``); the simulation is list scheduling, the
dynamic Ray executor's policy (:mod:`crossling.experiments.schedule`).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from crossling.experiments.config import load_study  # noqa: E402
from crossling.experiments.grid import expand  # noqa: E402
from crossling.experiments.schedule import write_makespans  # noqa: E402

WORKERS = (1, 4, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(REPO / "studies" / "first-align-then-predict.yaml"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--cpu-ms-per-pass", type=float, default=9.6)
    parser.add_argument("--model-factor", type=float, default=4.0)
    parser.add_argument("--gpu-speedup", type=float, default=35.0)
    parser.add_argument("--out", default=str(REPO / "docs"))
    args = parser.parse_args()
    cells = expand(load_study(args.study, data=args.data))
    per_pass = args.cpu_ms_per_pass / 1000 * args.model_factor / args.gpu_speedup
    costs = {c.key: c.params.cost() * per_pass for c in cells}
    deps = {c.key: list(c.depends_on) for c in cells}
    out = Path(args.out)
    with (out / "scaling-cells.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["key", "kind", "label", "passes", "seconds", "depends_on"])
        for c in cells:
            w.writerow([c.key, c.kind, c.label, f"{c.params.cost():.0f}",
                        f"{costs[c.key]:.1f}", " ".join(c.depends_on)])
    rows = write_makespans(out / "scaling.csv", costs, deps, WORKERS)
    label = {c.key: f"{c.kind} ({c.label})" for c in cells}
    print(f"{len(cells)} cells, {per_pass * 1000:.3f} ms per sentence pass")
    for r in rows:
        path = " > ".join(label[k] for k in r["critical_path"].split(" > "))
        print(f"{r['workers']:>3} GPUs: {r['makespan_s']} s dynamic, {r['waves_s']} s waves, "
              f"bound {r['bound_s']} s; critical path {r['critical_path_s']} s: {path}")


if __name__ == "__main__":
    main()
