"""Synthetic result rows with known answers, shared by the analysis and report tests."""

from __future__ import annotations

from crossling.results import CrossLingualRow, ModelModelRow, ScoreRow, SimilarityRow

TARGETS = ["ar", "de", "fr", "hi", "ru", "zh"]
SIM_AT_5 = {"ar": 0.40, "de": 0.80, "fr": 0.85, "hi": 0.55, "ru": 0.70, "zh": 0.50}
# REF score a monotone function of layer-5 similarity -> Spearman rho = 1 at layer 5
REF_SCORE = {lang: 40 + 50 * s for lang, s in SIM_AT_5.items()}
DROP = {"1-2": (-2.0, -10.0), "11-12": (-0.5, -0.5)}  # (source delta, target delta)


def score_rows(seeds: tuple[int, ...] = (0, 1)) -> list[ScoreRow]:
    rows = []
    for seed in seeds:
        for group in ["REF", *DROP]:
            src_d, tgt_d = DROP.get(group, (0.0, 0.0))
            for lang in ["en", *TARGETS]:
                base = 95.0 if lang == "en" else REF_SCORE[lang]
                value = base + (src_d if lang == "en" else tgt_d) + 0.1 * seed
                rows.append(ScoreRow("pos", lang, "test", "upos_acc", value, value - 1,
                                     value + 1, 100, 1500, "m", group, seed,
                                     {"source": "en", "model": "m", "data": {"a.conllu": "0" * 64},
                                      "versions": {"torch": "x"}}, source="en"))
    return rows


def similarity_rows() -> list[SimilarityRow]:
    rows: list[SimilarityRow] = []
    tag = {"task": "pos", "seed": 0, "finetune_cell": "ft-pos-0"}
    for lang in TARGETS:
        for layer in range(13):
            peak = SIM_AT_5[lang] if layer == 5 else 0.3 + 0.02 * layer
            for metric in ("linear_cka", "debiased_cka"):
                common = {"layer": layer, "metric": metric, "n": 200, "pooling": "mean"}
                rows.append(CrossLingualRow(
                    **common, source="en", target=lang, value=peak, ci_low=peak - 0.02,
                    ci_high=peak + 0.02, null_mean=0.2, null_high=0.22, model="m",
                    provenance={"model": "m"}))
                tuned = peak - 0.01 * max(0, layer - 8)
                rows.append(CrossLingualRow(
                    **common, source="en", target=lang, value=tuned, ci_low=tuned - 0.02,
                    ci_high=tuned + 0.02, null_mean=0.2, null_high=0.22, model="m+pos",
                    provenance={"task": "pos", "seed": 0}, **tag))
                same = 1.0 - 0.05 * max(0, layer - 6)
                rows.append(ModelModelRow(
                    **common, source=lang, target=lang, value=same, ci_low=same - 0.01,
                    ci_high=min(1.0, same + 0.01), null_mean=0.1, null_high=0.12, model="m",
                    compare_model="m+pos", provenance={"task": "pos", "seed": 0}, **tag))
    return rows
