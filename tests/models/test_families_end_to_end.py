"""Every command on every model type: a study of every cell kind, then its report.

Each supported model type and tokenizer variant (tests/models/tiny_families.py) runs a study
on a tiny random model: similarity with every measure (pretrained and fine-tuned), retrieval, a
probe, and fine-tuning of POS, parsing and NER from the pretrained model and with block 1
re-initialised (vocabulary trimming on, as by default); `crossling report` then draws it. The
assertions check what would break for a family the code misreads: a layer per block, finite
values, the re-initialised block's weight change, every score present.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from crossling.cli import main
from crossling.experiments.store import ResultStore
from crossling.similarity.measures import measure_ids
from tests.models.tiny_families import MODELS, build_family_model

COMMANDS = ("similarity", "retrieval", "probe", "finetune pos --reinit",
            "finetune parsing --reinit", "finetune ner --reinit", "trim vocabulary", "run",
            "report")
"""What the study below runs on every model type (the support table lists them)."""

STUDY = """
name: fam
model: {model}
data: {{ud: {ud}, ner: {ner}}}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [de],
         max_train_sentences: 8, max_eval_sentences: 6}}
  parsing: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [de],
             max_train_sentences: 8, max_eval_sentences: 6}}
  ner: {{eval: [de], max_train_sentences: 8, max_eval_sentences: 6}}
reinit: [REF, "1"]
seeds: [0]
training: {{epochs: 1, batch_size: 8, max_length: 48}}
similarity: {{languages: [de], n: 80, n_boot: 4, n_null: 2, measures: [{measures}],
              after_measures: [linear_cka]}}
retrieval: {{languages: [de], n: 12, n_boot: 4, n_null: 2}}
probe: {{targets: [de], max_train_sentences: 12, max_eval_sentences: 6, n_boot: 4}}
"""


@pytest.mark.slow  # ~1-2 min per model type on one loaded CPU core: bootstraps, report figures
@pytest.mark.parametrize("model_type", MODELS)
def test_every_command_runs_on_every_model_type(model_type: str, tiny_tokenizers: dict,
                                                data_dir: Path, tmp_path: Path) -> None:
    model = build_family_model(tmp_path / model_type, model_type, tiny_tokenizers["bert"])
    study = tmp_path / "fam.yaml"
    study.write_text(STUDY.format(model=model, ud=data_dir / "ud", ner=data_dir / "ner",
                                  measures=", ".join(measure_ids())), encoding="utf-8")
    store = tmp_path / "s.sqlite"
    threads = torch.get_num_threads()
    try:
        assert main(["run", str(study), "--store", str(store), "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    results = ResultStore(store)
    assert {c["status"] for c in results.cells("fam")} == {"done"}
    sims = results.similarity_rows("fam")
    kinds = {r.kind for r in sims}
    assert {"cross-lingual", "model-model", "weight-change"} <= kinds
    cross = [r for r in sims if r.kind == "cross-lingual"]
    assert {r.metric for r in cross} == set(measure_ids())
    assert {r.layer for r in cross} == {0, 1, 2}  # embeddings + 2 blocks
    assert all(math.isfinite(r.value) for r in cross)
    change = {(r.task, r.reinit, r.layer, r.metric): r.value for r in sims
              if r.kind == "weight-change"}
    # block 1 re-initialised: much farther from the published weights than after REF's
    # fine-tuning, and block 2, not re-initialised, as close as REF's
    for task in ("pos", "parsing", "ner"):
        moved = change[(task, "1", 1, "rel_change_from_pretrained")]
        assert moved > 10 * change[(task, "REF", 1, "rel_change_from_pretrained")]
        assert change[(task, "1", 2, "rel_change_from_pretrained")] < moved / 10
    scores = results.score_rows("fam")
    assert {(s.task, s.reinit) for s in scores} == {
        ("probe_pos", "REF"), *((t, g) for t in ("pos", "parsing", "ner") for g in ("REF", "1"))}
    # scores are in [0, 100]; a probe's selectivity (probe minus control) may be negative
    bad = [(s.task, s.metric, s.value) for s in scores if not math.isfinite(s.value)
           or (s.metric != "selectivity" and not 0.0 <= s.value <= 100.0)]
    assert not bad
    out = tmp_path / "report"
    assert main(["report", str(study), "--store", str(store), "--out", str(out)]) == 0
    assert "Table 1" in (out / "report.md").read_text(encoding="utf-8")
