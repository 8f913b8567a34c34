from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from crossling.report import figures
from crossling.report.plots import measure_label, save_figure, write_similarity_outputs
from crossling.results import SimilarityRow
from crossling.similarity.measures import get_measure


def _rows(kind: str, model: str, compare: str | None) -> list[SimilarityRow]:
    return [SimilarityRow.from_record(dict(
                kind=kind, source="en", target=t, layer=layer, metric="linear_cka", value=0.5,
                ci_low=0.4, ci_high=0.6, null_mean=0.1, null_high=0.2, n=10, pooling="mean",
                model=model, compare_model=compare, provenance={}))
            for t in ("fr", "de") for layer in range(3)]


def test_one_label_lookup_through_the_registry() -> None:
    assert measure_label("debiased_cka") == get_measure("debiased_cka").label
    assert measure_label("not_registered") == "not_registered"  # rows of an older store


def test_figures_save_through_the_shared_helper(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Both plotting modules write through plots.save_figure (the report at its own dpi)."""
    dpis: list[int] = []
    real = figures.save_figure
    monkeypatch.setattr(figures, "save_figure",
                        lambda fig, path, dpi: dpis.append(dpi) or real(fig, path, dpi))
    table = pd.DataFrame([{"task": "pos", "layer": x, "mean": 0.5, "min": 0.4, "max": 0.6,
                           "null_mean": 0.1, "null_high": 0.2} for x in range(3)])
    out = figures.pretrained_vs_finetuned(table, "linear_cka", tmp_path / "p.png")
    assert out.is_file() and dpis == [figures.DPI]
    fig = plt.figure()
    assert save_figure(fig, tmp_path / "f.png", dpi=50).read_bytes()[:4] == b"\x89PNG"
    assert not plt.fignum_exists(fig.number)  # closed


def test_similarity_outputs(tmp_path: Path) -> None:
    rows = _rows("cross-lingual", "a", None) + _rows("model-model", "a", "b")
    written = write_similarity_outputs(rows, tmp_path / "out")
    assert set(written) == {"csv", "json", "png", "model-model"}
    assert all(p.is_file() for p in written.values())
    assert len(pd.read_csv(written["csv"])) == len(rows)
    only_cross = write_similarity_outputs(_rows("cross-lingual", "a", None), tmp_path / "o2")
    assert "model-model" not in only_cross


def test_delta_figure_has_one_panel_per_task_its_main_metric(tmp_path: Path,
                                                             monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """UAS and span precision/recall stay in the CSV and the appendix, not in Figure 1."""
    panels: list[int] = []
    real = figures._save

    def spy(fig, path):  # type: ignore[no-untyped-def]
        panels.append(len(fig.axes))
        return real(fig, path)

    monkeypatch.setattr(figures, "_save", spy)
    rows = [{"task": t, "metric": m, "reinit": g, "source_delta": -1.0, "source_ci_low": -2.0,
             "source_ci_high": 0.0, "target_delta": -3.0, "target_ci_low": -4.0,
             "target_ci_high": -2.0}
            for t, ms in (("pos", ["upos_acc"]), ("parsing", ["las", "uas"]),
                          ("ner", ["span_f1", "span_precision", "span_recall"]),
                          ("other", ["acc", "f1"]))  # no main metric known: every metric
            for m in ms for g in ("1-2", "11-12")]
    figures.delta_by_group(pd.DataFrame(rows), tmp_path / "d.png")
    assert panels == [5]


def test_similarity_outputs_never_replace_a_users_file(tmp_path: Path) -> None:
    """`similarity --out DIR` (and `demo`) replaced any similarity.png or provenance.json
    there: a file crossling did not write is now a one-line error, left as it was."""
    import pytest

    from crossling.core.errors import ConfigError
    from tests.analysis.synthetic import similarity_rows

    rows = [r for r in similarity_rows() if r.kind == "cross-lingual"]
    (tmp_path / "provenance.json").write_text("{\"mine\": 1}")
    with pytest.raises(ConfigError, match=r"provenance\.json exists and was not written"):
        write_similarity_outputs(rows, tmp_path)
    assert (tmp_path / "provenance.json").read_text() == "{\"mine\": 1}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["provenance.json"]
    (tmp_path / "provenance.json").unlink()
    write_similarity_outputs(rows, tmp_path)
    write_similarity_outputs(rows, tmp_path)  # its own files: replaced
