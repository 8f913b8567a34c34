"""Models of different depth in one study: each runs its own cells (presets expanded for its
depth) and one report shows both on the relative-depth axis, beside each model's own report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crossling.report.depth import base_model, compare_depths, split_by_model
from crossling.results import CrossLingualRow, ScoreRow, WeightChangeRow
from tests.pathleaks import leaks_in

STUDY = """
name: depths
model: [{a}, {b}]
data: {{ud: {ud}}}
allow_test_training: true  # the fixture treebank has test files only: train on French
tasks:
  pos: {{train: [{train}], dev: [{train}], test: en, eval: [de], max_train_sentences: 4,
         max_eval_sentences: 4}}
reinit: [REF, pairs]
seeds: [0]
training: {{epochs: 1, batch_size: 4, max_length: 64}}
similarity: {{languages: [fr, de], measures: [linear_cka], n: 8, n_boot: 2, n_null: 2,
              after: false}}
"""


@pytest.fixture(scope="module")
def fixture_bert4(tmp_path_factory: pytest.TempPathFactory, fixture_bert: Path) -> Path:
    """fixture_bert's tokenizer on a 4-block BERT (fixture_bert has 2)."""
    from transformers import AutoTokenizer

    from tests.conftest import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("bert4"), "bert",
                            AutoTokenizer.from_pretrained(fixture_bert), layers=4)


def _sim(model: str, layer: int, value: float, **kw: object) -> CrossLingualRow:
    return CrossLingualRow(source="en", target="fr", layer=layer, metric="linear_cka",
                           value=value, model=model, ci_low=value, ci_high=value, n=8,
                           pooling="mean", null_mean=0.1, null_high=0.2, **kw)  # type: ignore[arg-type]


def _score(model: str, group: str, lang: str, value: float) -> ScoreRow:
    return ScoreRow(task="pos", language=lang, split="test", metric="upos_acc", value=value,
                    ci_low=value, ci_high=value, n_sentences=4, n_units=20, model=model,
                    reinit=group, seed=0, source="en")


def test_rows_split_by_their_pretrained_model_on_a_relative_axis() -> None:
    sims = [*(_sim("a", k, 0.5 + k / 10) for k in range(3)),
            *(_sim("b", k, 0.4) for k in range(5)),
            _sim("a+pos-1-2-seed0", 1, 0.9, task="pos", seed=0, reinit="1-2"),
            WeightChangeRow(source="en", target="en", layer=4, metric="rel_change_from_start",
                            value=0.1, model="b", task="pos", seed=0, reinit="REF")]
    assert [base_model(r) for r in sims[-2:]] == ["a", "b"]
    scores = [_score(m, g, lang, v) for m, groups in (("a", ["REF", "1-2"]),
                                                      ("b", ["REF", "1-2", "3-4"]))
              for g in groups for lang, v in (("en", 90.0 - 5 * (g != "REF")),
                                              ("fr", 50.0 - 10 * (g != "REF")))]
    by_model = split_by_model(scores, sims)
    assert list(by_model) == ["a", "b"]
    cmp = compare_depths(by_model)
    assert dict(zip(cmp.depths["model"], cmp.depths["blocks"], strict=True)) == {"a": 2, "b": 4}
    sim = cmp.similarity.set_index(["model", "layer"])
    assert sim.loc[("a", 2), "relative_depth"] == 1.0 and sim.loc[("b", 2), "relative_depth"] \
        == 0.5
    assert sim.loc[("a", 1), "value"] == pytest.approx(0.6)  # the tuned row is not pretrained
    d = cmp.deltas.set_index(["model", "reinit"])
    assert d.loc[("a", "1-2"), "relative_depth"] == pytest.approx(0.5)
    assert d.loc[("b", "1-2"), "relative_depth"] == pytest.approx(0.25)
    assert d.loc[("b", "3-4"), "relative_depth"] == pytest.approx(0.75)
    assert d.loc[("b", "3-4"), "source_delta"] == pytest.approx(-5.0)
    assert d.loc[("b", "3-4"), "target_delta"] == pytest.approx(-10.0)


def test_a_study_of_two_depths_runs_and_reports_both(
        tmp_path: Path, fixture_dir: Path, fixture_bert: Path, fixture_bert4: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from crossling.experiments.workflows import run_study, study_report
    from crossling.models.naming import model_name

    monkeypatch.chdir(tmp_path)
    train = next((fixture_dir / "ud").glob("*/fr_fixture-ud-test.conllu"))
    study = tmp_path / "depths.yaml"
    study.write_text(STUDY.format(a=fixture_bert, b=fixture_bert4, ud=fixture_dir / "ud",
                                  train=train), encoding="utf-8")
    store = tmp_path / "runs" / "results.sqlite"
    outcome = run_study(study, store=store)
    # a: similarity + REF, 1-2; b: similarity + REF, 1-2, 3-4
    assert outcome.counts.get("done") == 7 and not outcome.failed, outcome
    report = study_report(study, store=store, out=tmp_path / "report")
    out = report.out
    a, b = model_name(fixture_bert), model_name(fixture_bert4)
    sim = pd.read_csv(out / "depth-similarity.csv")
    assert set(sim["model"]) == {a, b}
    top = sim.groupby("model")["layer"].max().to_dict()
    assert top == {a: 2, b: 4}
    assert (sim[sim["layer"] == sim["model"].map(top)]["relative_depth"] == 1.0).all()
    assert (sim[sim["layer"] == 0]["relative_depth"] == 0.0).all()
    dl = pd.read_csv(out / "depth-deltas.csv")
    got = {(m, g): round(x, 3) for m, g, x in zip(dl["model"], dl["reinit"],
                                                 dl["relative_depth"], strict=True)}
    assert got == {(a, "1-2"): 0.5, (b, "1-2"): 0.25, (b, "3-4"): 0.75}
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "by relative depth, models side by side" in text
    assert (out / "depth-similarity.png").stat().st_size > 0
    assert (out / "depth-deltas.png").stat().st_size > 0
    for name in (a, b):  # each model's own report, in absolute layers
        own = (out / "models" / name / "report.md").read_text(encoding="utf-8")
        assert f"models/{name}/report.md" in text and "Table 1" in own
    assert not leaks_in(out)
