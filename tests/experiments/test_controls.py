"""``controls: {random_weights: [...]}``: the study option, its cells and their keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.experiments.config import load_study
from crossling.experiments.grid import expand
from crossling.results import ProbeRow, SimilarityRow

BASE = """
name: t
model: m
data: {{ud: {ud}}}
similarity: {{languages: [fr, de], n: 20, n_boot: 10, n_null: 5}}
retrieval: {{languages: [fr, de], n: 20, n_boot: 10, n_null: 5}}
probe: {{targets: [fr, de], max_train_sentences: 16, max_eval_sentences: 8, n_boot: 10}}
{controls}
"""


def _study(tmp_path: Path, data_dir: Path, controls: str = "", text: str = BASE) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(text.format(ud=data_dir / "ud", controls=controls), encoding="utf-8")
    return p


def test_controls_add_cells_and_keep_every_existing_key(tmp_path: Path, data_dir: Path) -> None:
    plain = expand(load_study(_study(tmp_path, data_dir)))
    cells = expand(load_study(_study(tmp_path, data_dir, "controls: {random_weights: [0, 1, 2]}")))
    assert {c.key for c in plain} < {c.key for c in cells}
    assert len(cells) == len(plain) + 3 * 3 == len({c.key for c in cells})
    by_kind: dict[str, list[int | None]] = {}
    for c in cells:
        by_kind.setdefault(c.kind, []).append(c.params.random_weights)  # type: ignore[attr-defined]
    assert by_kind == {k: [None, 0, 1, 2] for k in ("similarity", "retrieval", "probe")}
    labels = {c.label for c in cells}
    assert {"similarity (pretrained)", "similarity (random weights, seed 1)",
            "retrieval (random weights, seed 2)", "probe (random weights, seed 0, 2 targets)",
            "probe (pretrained, 2 targets)"} <= labels
    # each retrieval cell waits for the similarity cell of the same model (shared vectors)
    sim = {c.params.random_weights: c.key for c in cells if c.kind == "similarity"}  # type: ignore[attr-defined]
    for c in cells:
        if c.kind == "retrieval":
            assert c.depends_on == (sim[c.params.random_weights],)  # type: ignore[attr-defined]
    stored = [c.params.to_dict() for c in cells if c.kind == "probe"]
    assert "random_weights" not in stored[0] and stored[1]["random_weights"] == 0


def test_controls_follow_the_sections_the_study_has(tmp_path: Path, data_dir: Path) -> None:
    text = BASE.replace("similarity: {{languages: [fr, de], n: 20, n_boot: 10, n_null: 5}}\n",
                        "").replace("retrieval: {{languages: [fr, de], n: 20, n_boot: 10, "
                                    "n_null: 5}}\n", "")
    cells = expand(load_study(_study(tmp_path, data_dir, "controls: {random_weights: [4]}",
                                     text)))
    assert [(c.kind, c.params.random_weights) for c in cells] == \
        [("probe", None), ("probe", 4)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("controls", "message"), [
    ("controls: {random_weights: []}", r"study\.yaml: controls\.random_weights: empty list"),
    ("controls: {random_weights: [0, x]}",
     r"study\.yaml: controls\.random_weights\[1\]: expected an init seed in \[0, 4294967295\], "
     "got 'x'"),
    ("controls: {random_weights: [0, -1]}", r"controls\.random_weights\[1\]: expected an init "
                                            "seed"),
    ("controls: {random_weights: [1, 1]}",
     r"controls\.random_weights\[1\]: duplicate of controls\.random_weights\[0\]"),
    ("controls: {random_weights: [true]}", r"controls\.random_weights\[0\]: expected an init"),
    ("controls: {random_weights: 0}", r"controls\.random_weights: expected list, got int"),
    ("controls: {random_weight: [0]}", r"controls\.random_weight: unknown field"),
    ("controls: [0, 1]", r"study\.yaml: controls: expected a mapping"),
    ("controls: {}", r"controls\.random_weights: missing"),
])
def test_bad_controls_are_one_line_naming_the_option(tmp_path: Path, data_dir: Path,
                                                     controls: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_study(_study(tmp_path, data_dir, controls))
    assert "\n" not in str(err.value)


def test_controls_need_a_pretrained_pass(tmp_path: Path, data_dir: Path) -> None:
    text = ("name: t\nmodel: m\ndata: {{ud: {ud}}}\n"
            "tasks: {{pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr]}}}}\n"
            "similarity: {{languages: [fr], n: 20, before: false}}\n{controls}\n")
    with pytest.raises(ConfigError, match=r"controls\.random_weights: nothing to control"):
        load_study(_study(tmp_path, data_dir, "controls: {random_weights: [0]}", text))


@pytest.mark.slow
def test_a_study_with_the_control_runs_and_reports_it(trained_fixture_bert: Path,
                                                      data_dir: Path, tmp_path: Path) -> None:
    """Similarity, retrieval and probe cells on the random-weights control: rows named and
    recorded as the control, other weights, the same tokenizer; the report's control table
    sets them beside the pretrained model and keeps them out of every other table."""
    import pandas as pd

    from crossling.experiments.store import ResultStore
    from crossling.experiments.workflows import run_study, study_report

    study = tmp_path / "ctl.yaml"
    study.write_text(
        f"name: ctl\nmodel: {trained_fixture_bert}\ndata: {{ud: {data_dir / 'ud'}}}\n"
        "controls: {random_weights: [0, 1]}\n"
        "similarity: {languages: [fr, de], n: 12, n_boot: 5, n_null: 5, "
        "measures: [debiased_cka]}\n"
        "retrieval: {languages: [fr], n: 12, n_boot: 5, n_null: 5, variants: [cosine]}\n"
        "probe: {targets: [fr], max_train_sentences: 16, max_eval_sentences: 8, n_boot: 5}\n",
        encoding="utf-8")
    store = tmp_path / "results.sqlite"
    outcome = run_study(study, store=store)
    assert outcome.counts == {"done": 9} and not outcome.failed
    results = ResultStore(store, readonly=True)
    rows = [*results.similarity_rows("ctl"), *results.score_rows()]
    name = trained_fixture_bert.name
    by_model: dict[str, list] = {}
    for r in rows:
        by_model.setdefault(r.model, []).append(r)
    assert sorted(by_model) == [name, f"{name} (random weights, seed 0)",
                                f"{name} (random weights, seed 1)"]
    weights, tokenizers = set(), set()
    for model, own in by_model.items():
        assert {r.kind for r in own if isinstance(r, SimilarityRow)} == \
            {"cross-lingual", "retrieval"} and any(isinstance(r, ProbeRow) for r in own)
        record = own[0].provenance.get("random_weights")
        assert (record is None) == (model == name)
        if record is not None:
            assert record["of"] == name and f"seed {record['seed']}" in model
        sims = [r for r in own if isinstance(r, SimilarityRow)]
        weights.add(sims[0].provenance["model_fingerprint"])
        tokenizers.add(sims[0].provenance["tokenizer_fingerprint"])
    assert len(weights) == 3 and len(tokenizers) == 1
    report = study_report(study, store=store, out=tmp_path / "report")
    md = (report.out / "report.md").read_text()
    assert "## Control: random weights" in md
    table = md.split("## Control: random weights")[1].split("## ")[0]
    assert "debiased_cka: random weights (2 seeds)" in table
    assert [line.split("|")[1].strip() for line in table.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip().isdigit()] == ["0", "1", "2"]
    controls = pd.read_csv(report.out / "controls.csv")
    assert len(controls) == 3 * 3 and set(controls["n_seeds"]) == {2}
    assert set(controls["model"]) == {name} and controls["pretrained"].notna().all()
    for other in ("similarity.csv", "retrieval.csv", "probe.csv"):
        assert "random weights" not in (report.out / other).read_text()
