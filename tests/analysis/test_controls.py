from __future__ import annotations

import math
from typing import Any

import pytest

from crossling.analysis.controls import control_frame, control_of, split_control_rows
from crossling.results import PROBE_TASK, CrossLingualRow, ProbeRow, RetrievalRow
from crossling.results.rows import ScoreRow, SimilarityRow
from crossling.retrieval.metrics import metric_id

Row = ScoreRow | SimilarityRow


def _prov(seed: int | None) -> dict[str, Any]:
    return {} if seed is None else {"random_weights": {"seed": seed, "of": "m"}}


def _name(seed: int | None) -> str:
    return "m" if seed is None else f"m (random weights, seed {seed})"


def _cka(seed: int | None, target: str, layer: int, value: float,
         metric: str = "debiased_cka") -> CrossLingualRow:
    return CrossLingualRow(source="en", target=target, layer=layer, metric=metric, value=value,
                           model=_name(seed), provenance=_prov(seed), ci_low=value,
                           ci_high=value, n=10, pooling="mean", null_mean=0.0, null_high=0.1)


def _p1(seed: int | None, layer: int, direction: str, value: float,
        variant: str = "cosine") -> RetrievalRow:
    return RetrievalRow(source="en", target="fr", layer=layer,
                        metric=metric_id(variant, direction), value=value, model=_name(seed),
                        provenance=_prov(seed), ci_low=value, ci_high=value, n=10,
                        pooling="mean", null_mean=0.1, null_high=0.2)


def _probe(seed: int | None, language: str, layer: int | None, value: float) -> ProbeRow:
    return ProbeRow(task=PROBE_TASK, language=language, split="test",
                    metric="upos_acc" if layer is not None else "majority_acc", value=value,
                    ci_low=value, ci_high=value, n_sentences=8, n_units=80, model=_name(seed),
                    reinit="REF", seed=0, provenance=_prov(seed), source="en", layer=layer)


def _rows() -> list[Row]:
    rows: list[Row] = []
    for seed, shift in ((None, 0.5), (0, 0.0), (1, 0.2)):
        for layer in (0, 1):
            rows += [_cka(seed, "fr", layer, shift + layer), _cka(seed, "de", layer, shift),
                     _cka(seed, "fr", layer, 9.0, metric="linear_cka"),
                     _p1(seed, layer, "s2t", shift), _p1(seed, layer, "t2s", shift + 0.1),
                     _p1(seed, layer, "s2t", 9.0, variant="margin"),
                     _probe(seed, "en", layer, 99.0), _probe(seed, "fr", layer, 10 + shift)]
        rows.append(_probe(seed, "fr", None, 5.0))
    return rows


def test_the_control_frame_sets_seeds_beside_the_pretrained_model() -> None:
    frame = control_frame(_rows(), "debiased_cka")
    assert list(frame["quantity"].unique()) == [
        "debiased_cka", "retrieval P@1 (cosine)", "probe accuracy (targets)"]
    assert set(frame["model"]) == {"m"} and set(frame["n_seeds"]) == {2}
    assert set(frame["seeds"]) == {"0 1"}
    cka = frame[frame["quantity"] == "debiased_cka"].set_index("layer")
    # mean over targets: (shift + layer + shift) / 2
    assert cka.loc[1, "pretrained"] == pytest.approx(1.0)
    assert cka.loc[1, "random_mean"] == pytest.approx((0.5 + 0.7) / 2)
    assert cka.loc[1, "random_sd"] == pytest.approx(math.sqrt(2) * 0.1)
    assert (cka.loc[1, "random_min"], cka.loc[1, "random_max"]) == pytest.approx((0.5, 0.7))
    p1 = frame[frame["quantity"] == "retrieval P@1 (cosine)"].set_index("layer")
    assert p1.loc[0, "pretrained"] == pytest.approx(0.55)  # both directions, cosine only
    assert p1.loc[0, "random_mean"] == pytest.approx(0.15)
    probe = frame[frame["quantity"] == "probe accuracy (targets)"].set_index("layer")
    assert list(probe.index) == [0, 1]  # the majority baseline is no layer
    assert probe.loc[0, "pretrained"] == pytest.approx(10.5)  # the source (99) left out
    assert probe.loc[0, "random_mean"] == pytest.approx(10.1)


def test_no_control_rows_no_frame_and_one_seed_has_no_sd() -> None:
    rows = _rows()
    assert control_frame([r for r in rows if control_of(r) is None], "debiased_cka").empty
    one = control_frame([r for r in rows if (control_of(r) or {}).get("seed") != 1],
                        "debiased_cka")
    assert set(one["n_seeds"]) == {1} and one["random_sd"].isna().all()


def test_split_control_rows_tells_a_probe_control_task_from_a_control() -> None:
    """The probe's provenance has a ``control`` (task) entry of its own: not a control."""
    probe = _probe(None, "fr", 0, 1.0)
    hewitt = ProbeRow(**{**probe.__dict__, "provenance": {"control": {"method": "x"}}})
    control, rest = split_control_rows([hewitt, _probe(3, "fr", 0, 1.0)])
    assert [control_of(r) for r in control] == [{"seed": 3, "of": "m"}] and rest == [hewitt]
