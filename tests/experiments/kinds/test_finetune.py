"""The finetune kind's runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import DataError
from crossling.experiments.kinds import finetune
from crossling.training.loop import TrainConfig


def test_a_finetune_cell_refuses_evaluating_its_training_sentences(ud_dir: Path,
                                                                    tmp_path: Path) -> None:
    fr = str(ud_dir / "UD_French-PUD" / "fr_pud-ud-test.conllu")
    params = finetune.Params(
        task="pos", reinit="REF", scheme="model", seed=0, training=TrainConfig(),
        max_train_sentences=None, max_eval_sentences=None, model="never-loaded", source="en",
        train=[fr], dev=[fr],
        evals={"en": str(ud_dir / "UD_English-PUD" / "en_pud-ud-test.conllu"), "fr": fr})
    with pytest.raises(DataError, match="sentences of test set 'fr' are train sentences"):
        finetune.run(params, tmp_path)
