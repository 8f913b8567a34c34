"""Named entities as IOB2 tags, scored by span F1 (and precision, recall)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossling.data.example import Example
from crossling.training.metrics import Score, span_f1
from crossling.training.tasks.base import Tagging


class NerTask(Tagging):
    name = "ner"
    main_metric = "span_f1"
    fallback = "O"  # a word the model never saw is in no predicted entity

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        return span_f1([ex.labels for ex in examples], predictions, seed=seed)
