"""UPOS tagging, scored by token accuracy over syntactic words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossling.data.example import Example
from crossling.training.metrics import Score, accuracy
from crossling.training.tasks.base import Tagging


class PosTask(Tagging):
    name = "pos"
    main_metric = "upos_acc"

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        return {"upos_acc": accuracy([ex.labels for ex in examples], predictions, seed=seed)}
