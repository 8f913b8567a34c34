"""The multilingual-e5-small numbers quoted in docs/probing.md, docs/retrieval.md and
docs/p6-confounds.md.

Project rule: every number in the docs comes from a CSV the code wrote. The runs' CSVs (with their
provenance sidecars) are committed under docs/e5/; this test recomputes each quoted table and
prose value from them with the same analysis helpers the CLI prints with, and compares it with the
Markdown, so editing a doc number or replacing a CSV without updating the doc fails here. No model,
no shared data: pandas on two small CSVs.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crossling.analysis import probing, retrieval
from crossling.analysis.confounds import survives_confounds
from crossling.experiments.config import load_study
from crossling.results import read_rows_csv

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PROBE_DIR = DOCS / "e5" / "probe"
RETRIEVAL_DIR = DOCS / "e5" / "retrieval"
WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def _section(doc: str, heading: str) -> str:
    """The text of ``## heading`` up to the next level-2 heading, whitespace-normalised lines
    kept (tables and code blocks are line-based)."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def _prose(section: str) -> str:
    """The section with line breaks folded, so a regex can span wrapped lines."""
    return re.sub(r"\s+", " ", section)


def _md_table(section: str, first_header: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Markdown table whose first header cell is ``first_header``."""
    lines = section.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return cells, rows
    raise AssertionError(f"no table with first header {first_header!r}")


def _provenance(folder: Path) -> dict[str, object]:
    runs = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    assert len(runs) == 1
    return dict(next(iter(runs.values())))


@pytest.fixture(scope="module")
def probe_frame() -> pd.DataFrame:
    return probing.probe_frame(read_rows_csv(PROBE_DIR / "probe.csv"))


@pytest.fixture(scope="module")
def retrieval_frame() -> pd.DataFrame:
    return retrieval.retrieval_frame(read_rows_csv(RETRIEVAL_DIR / "retrieval.csv"))


# --- docs/probing.md ------------------------------------------------------------------------

def test_probe_accuracy_table(probe_frame: pd.DataFrame) -> None:
    section = _section("probing.md", "On multilingual-e5-small")
    table = probing.layer_table(probe_frame, "upos_acc")
    header, rows = _md_table(section, "layer")
    langs = header[1:]
    assert langs == list(table.columns)
    best = {lang: int(table.drop(index="majority")[lang].astype(float).idxmax()) for lang in langs}
    shown_layers = []
    majority_tag = _provenance(PROBE_DIR)["majority_tag"]
    for row in rows:
        label, cells = row[0], row[1:]
        if label.startswith("majority"):
            assert label == f"majority ({majority_tag})"
            key: object = "majority"
        else:
            key = int(label)
            shown_layers.append(key)
        for lang, cell in zip(langs, cells, strict=True):
            bold = cell.startswith("**")
            assert cell.strip("*") == f"{table.loc[key, lang]:.1f}", (label, lang)
            assert bold == (key == best[lang]), f"bold at layer {label}, {lang}"
    assert "majority" in [r[0].split()[0] for r in rows]
    # every column's maximum is among the shown rows, so the bold marks are the maxima
    assert set(best.values()) <= set(shown_layers)
    hidden = sorted(set(table.index.drop("majority")) - set(shown_layers))
    m = re.search(r"\(layers ([\d, and]+) are in the CSV\)", _prose(section))
    assert m is not None
    assert [int(x) for x in re.findall(r"\d+", m.group(1))] == hidden


def test_probe_prose(probe_frame: pd.DataFrame) -> None:
    text = _prose(_section("probing.md", "On multilingual-e5-small"))
    acc = probing.layer_table(probe_frame, "upos_acc").drop(index="majority")
    sel = probing.layer_table(probe_frame, "selectivity").drop(index="majority")
    ctl = probing.layer_table(probe_frame, "control_acc").drop(index="majority")
    prov = _provenance(PROBE_DIR)

    m = re.search(r"the defaults: ([\d,]+) EWT sentences = ([\d,]+) words", text)
    assert m is not None
    assert (m.group(1), m.group(2)) == (f"{prov['n_train_sentences']:,}",
                                        f"{prov['n_train_words']:,}")
    assert re.search(r"at commit `([0-9a-f]+)-dirty`", text).group(1) == (  # type: ignore[union-attr]
        str(prov["git_commit"]).removesuffix("-dirty")[:7])
    assert str(prov["git_commit"]).endswith("-dirty")

    layered = probe_frame[(probe_frame["metric"] == "upos_acc") & probe_frame["layer"].notna()]
    half = (layered["ci_high"] - layered["ci_low"]) / 2
    m = re.search(r"intervals are about ±([\d.]+)-([\d.]+) points", text)
    assert m is not None
    assert (m.group(1), m.group(2)) == (f"{half.min():.1f}", f"{half.max():.1f}")

    m = re.search(r"Selectivity at layer (\d+): en ([\d.]+) \[([\d.]+), ([\d.]+)\] "
                  r"\(its control probe reaches ([\d.]+)%", text)
    assert m is not None
    layer = int(m.group(1))
    en = probe_frame[(probe_frame["language"] == "en") & (probe_frame["layer"] == layer)
                     & (probe_frame["metric"] == "selectivity")].iloc[0]
    assert m.groups()[1:] == (f"{en['value']:.1f}", f"{en['ci_low']:.1f}", f"{en['ci_high']:.1f}",
                              f"{ctl.loc[layer, 'en']:.1f}")
    para = text[m.end():text.index("unseen types", m.end())]
    quoted = dict(re.findall(r"\b(ar|de|fr|hi|ru|zh) (\d+\.\d)", para))
    targets = [c for c in sel.columns if c != "en"]
    assert quoted == {lang: f"{sel.loc[layer, lang]:.1f}" for lang in targets}
    m = re.search(r"control accuracy is (\d+)-(\d+)%", para)
    assert m is not None
    ctl_t = ctl.loc[layer, targets]
    assert (m.group(1), m.group(2)) == (f"{ctl_t.min():.0f}", f"{ctl_t.max():.0f}")

    best = probing.best_layers(probe_frame).set_index("language")
    m = re.search(r"best for English at layers (\d+)-(\d+) but for the targets at layers "
                  r"(\d+)-(\d+), (\w+) to (\w+) blocks higher", text)
    assert m is not None
    en_top = [int(k) for k in acc.index if f"{acc.loc[k, 'en']:.1f}" == f"{acc['en'].max():.1f}"]
    assert (int(m.group(1)), int(m.group(2))) == (min(en_top), max(en_top))
    src_layer = int(best.loc["en", "best_layer"])
    tgt = best.loc[targets, "best_layer"].astype(int)
    assert (int(m.group(3)), int(m.group(4))) == (tgt.min(), tgt.max())
    assert (m.group(5), m.group(6)) == (WORDS[tgt.min() - src_layer], WORDS[tgt.max() - src_layer])
    m = re.search(r"\(en at layer (\d+) is ([\d.]+) as at layer (\d+);", text)
    assert m is not None
    assert f"{acc.loc[int(m.group(1)), 'en']:.1f}" == m.group(2) == \
        f"{acc.loc[int(m.group(3)), 'en']:.1f}"

    m = re.search(r"every curve falls over the top (\w+) blocks \(de: ([\d.]+) at layer (\d+), "
                  r"([\d.]+) at layer (\d+)\)", text)
    assert m is not None
    top = {v: k for k, v in WORDS.items()}[m.group(1)]
    last = int(acc.index.max())
    for lang in acc.columns:
        curve = acc.loc[last - top:last, lang].to_numpy()
        assert all(a > b for a, b in itertools.pairwise(curve)), lang
    assert m.group(2) == f"{acc.loc[int(m.group(3)), 'de']:.1f}"
    assert m.group(4) == f"{acc.loc[int(m.group(5)), 'de']:.1f}"

    m = re.search(r"\(ru ([\d.]+), zh ([\d.]+)\)", text)
    assert m is not None
    assert m.groups() == (f"{acc.loc[0, 'ru']:.1f}", f"{acc.loc[0, 'zh']:.1f}")
    assert (acc.loc[0] > probing.layer_table(probe_frame).loc["majority"]).all()
    m = re.search(r"lowest of all layers for ([a-z, ]+) \(for ([a-z ]+), layer (\d+)'s is lower\)",
                  text)
    assert m is not None
    lowest = set(re.findall(r"[a-z]{2}", m.group(1).replace("and", "")))
    assert lowest == {lang for lang in sel.columns if int(sel[lang].idxmin()) == 0}
    others = set(re.findall(r"[a-z]{2}", m.group(2).replace("and", "")))
    assert others == set(sel.columns) - lowest
    assert {int(sel[lang].idxmin()) for lang in others} == {int(m.group(3))}


# --- docs/retrieval.md ----------------------------------------------------------------------

def _fmt(value: float) -> str:
    return f"{value:.3f}"


def test_retrieval_printout(retrieval_frame: pd.DataFrame) -> None:
    section = _section("retrieval.md", "Example: multilingual-e5-small")
    block = section.split("```")[1].strip("\n").splitlines()
    n = int(retrieval_frame["n"].iloc[0])
    pooling = str(retrieval_frame["pooling"].iloc[0])
    assert block[0] == ("P@1 per layer, cosine scoring, mean of the two directions (en→target and "
                        f"target→en; n = {n} candidates, pooling = {pooling}):")
    expected = retrieval.layer_table(retrieval_frame, "cosine").to_string(float_format=_fmt)
    # the doc's Markdown drops trailing blanks of the printout's lines
    assert [line.rstrip() for line in block[1:]] == [
        line.rstrip() for line in expected.splitlines()]


def test_retrieval_centred_margin_table(retrieval_frame: pd.DataFrame) -> None:
    section = _section("retrieval.md", "Example: multilingual-e5-small")
    header, rows = _md_table(section, "layer")
    columns = [tuple(h.split()) for h in header[1:]]
    tables = {v: retrieval.layer_table(retrieval_frame, v) for v in ("centred", "margin")}
    assert rows
    for row in rows:
        layer = int(row[0])
        for (variant, target), cell in zip(columns, row[1:], strict=True):
            assert cell == _fmt(tables[variant].loc[layer, target]), (layer, variant, target)


def test_retrieval_prose(retrieval_frame: pd.DataFrame) -> None:
    section = _section("retrieval.md", "Example: multilingual-e5-small")
    text = _prose(section)
    prov = _provenance(RETRIEVAL_DIR)
    targets = sorted(set(retrieval_frame["target"]))

    m = re.search(r"--targets ([a-z ]+) --n (\d+) --device (\w+)", text)
    assert m is not None
    assert sorted(m.group(1).split()) == targets
    assert int(m.group(2)) == prov["n_sentences"] == int(retrieval_frame["n"].iloc[0])
    assert str(prov["device"]).startswith(m.group(3))
    assert re.search(r"written at commit `([0-9a-f]+)`", text).group(1) == (  # type: ignore[union-attr]
        str(prov["git_commit"])[:7])

    peaks = retrieval.peak_table(retrieval_frame)
    layer_cols = [c for c in peaks.columns if c.startswith("peak layer")]
    m = re.search(r"mean over targets peaks at layer (\d+)-(\d+) in every variant", text)
    assert m is not None
    mean_peaks = peaks.loc[peaks["target"] == retrieval.MEAN_TARGET, layer_cols].to_numpy()
    assert (int(m.group(1)), int(m.group(2))) == (mean_peaks.min(), mean_peaks.max())

    m = re.search(r"centred and margin P@1 reach 1\.0 from layer (\d+)-(\d+) for ([a-z, ]+?) "
                  r"and ([a-z]+),", text)
    assert m is not None
    langs = [*re.findall(r"[a-z]{2}", m.group(3)), m.group(4)]
    sub = peaks[peaks["variant"].isin(["centred", "margin"]) & peaks["target"].isin(langs)]
    assert len(sub) == 2 * len(langs)
    at_peak = sub[[c for c in peaks.columns if c.startswith("P@1 at peak")]].to_numpy()
    assert all(str(v).startswith("1.000") for v in at_peak.ravel())
    layers = sub[layer_cols].to_numpy()
    assert (int(m.group(1)), int(m.group(2))) == (layers.min(), layers.max())

    m = re.search(r"plain cosine finds (\d+)-(\d+)% of the translations, centring (\d+)-(\d+)% "
                  r".*? the margin, which discounts hub candidates, (\d+)-(\d+)%", text)
    assert m is not None
    quoted = [int(x) for x in m.groups()]
    for i, variant in enumerate(("cosine", "centred", "margin")):
        row0 = retrieval.layer_table(retrieval_frame, variant).loc[0]
        assert quoted[2 * i:2 * i + 2] == [int(f"{100 * row0.min():.0f}"),
                                           int(f"{100 * row0.max():.0f}")], variant

    m = re.search(r"Arabic is the hardest target in layers (\d+)-(\d+) \((\d+) of the (\d+) layer "
                  r"x variant cells\)", text)
    assert m is not None
    lo, hi = int(m.group(1)), int(m.group(2))
    hardest = cells = 0
    for variant in retrieval.variants_present(retrieval_frame):
        table = retrieval.layer_table(retrieval_frame, variant).loc[list(range(lo, hi + 1))]
        hardest += int((table["ar"] == table.min(axis=1)).sum())
        cells += len(table)
    assert (int(m.group(3)), int(m.group(4))) == (hardest, cells)

    m = re.search(r"far above chance \(([\d.]+)%\) and the shuffled-pairs 95th percentile "
                  r"\(at most ([\d.]+)%\)", text)
    assert m is not None
    assert m.group(1) == f"{100 * retrieval_frame['chance'].max():.1f}"
    assert m.group(2) == f"{100 * retrieval_frame['null_high'].max():.1f}"
    assert retrieval_frame["value"].min() > retrieval_frame["null_high"].max()

    # the exact Clopper-Pearson bound for n of n hits: (alpha/2) ** (1/n)
    n = int(prov["n_sentences"])
    m = re.search(r"\[1 − ([\d.]+)/n, 1\], here \[([\d.]+), 1\]", text)
    assert m is not None
    assert m.group(1) == f"{-math.log(0.025):.1f}"
    assert m.group(2) == f"{0.025 ** (1 / n):.3f}"


# --- docs/reproduction: the recipe sweep and the generated README ------------------------------

REPRO = DOCS / "reproduction"


def _sweep_module() -> object:
    """studies/recipes/sweep.py (a script, not a package module), imported from its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sweep", ROOT / "studies" / "recipes" /
                                                  "sweep.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_tables_are_the_sweeps_csv() -> None:
    """docs/reproduction/recipes.md quotes the sweep's tables exactly as the script renders them
    from the CSV it wrote, and the study file trains the recipe the rule chose."""
    sweep: Any = _sweep_module()
    frame = pd.read_csv(REPRO / "recipes" / "sweep.csv")
    assert sweep.render_md(frame) in (REPRO / "recipes.md").read_text(encoding="utf-8")
    study = load_study(ROOT / "studies" / "first-align-then-predict-cpu.yaml",
                       data=ROOT.parent / "shared" / "data") \
        if (ROOT.parent / "shared" / "data").is_dir() else None
    if study is None:
        pytest.skip("no shared data to load the study against")
    for _, choice in sweep.choose(frame).iterrows():
        task = next(t for t in study.tasks if t.name == choice["task"])
        config = study.task_training(task)
        assert (config.lr, config.head_lr, config.epochs, config.batch_size) == (
            choice["lr"], choice["head_lr"], choice["epochs"], choice["batch_size"])
        assert task.max_train_sentences == choice["n_train"]


def test_reproduction_readme_quotes_verdicts_csv() -> None:
    """Every row of the README's verdict table is the CSV's (formatted by the same code); a
    README without the CSV must not show a verdict table at all."""
    from tests.report.test_readme import check_readme_against_csv

    readme = REPRO / "README.md"
    if (REPRO / "verdicts.csv").is_file():
        assert check_readme_against_csv(readme, REPRO / "verdicts.csv") >= 5
    else:
        text = readme.read_text(encoding="utf-8")
        assert "| proposition |" not in text and "not been run" in text


def test_similarity_measures_quotes_the_reproduction_interval_widths() -> None:
    """docs/similarity-measures.md quotes the median width, over the 18 targets, of each CKA
    measure's paired peak - top interval in the reproduction study at 0.2.0, and how many of
    those intervals lie above 0: recomputed from the report's layer-differences.csv."""
    frame = pd.read_csv(REPRO / "layer-differences.csv")
    text = _prose((DOCS / "similarity-measures.md").read_text(encoding="utf-8"))
    width = (frame["ci_high"] - frame["ci_low"]).groupby(frame["metric"]).median()
    above = (frame["ci_low"] > 0).groupby(frame["metric"]).sum()
    quoted = re.search(r"went from 0\.0129 \(0\.1\.0\) to (\d\.\d{4}); linear and RBF CKA's "
                       r"stayed at (\d\.\d{4}) and (\d\.\d{4}), and every verdict is unchanged "
                       r"\(all (\d+) targets'", text)
    assert quoted is not None, "the quoted widths are gone from docs/similarity-measures.md"
    for metric, number in zip(("debiased_cka", "linear_cka", "rbf_cka"), quoted.groups()[:3],
                              strict=True):
        assert f"{width[metric]:.4f}" == number, metric
    assert int(above["debiased_cka"]) == int(quoted.group(4)) == 18


def _p6_confounds_markdown() -> str:
    """The e5 table of docs/p6-confounds.md, from docs/e5/p6 and the reproduction's P6 layer."""
    conf = pd.read_csv(DOCS / "e5" / "p6" / "p6-confounds.csv")
    perm = pd.read_csv(DOCS / "reproduction" / "p6-permutation.csv")
    lines = ["| task | layer | ρ | p (layer-corrected) | partial ρ, all three | p | "
             "p (layer-corrected) | ρ leaving a family out | R² similarity | R² score | "
             "survives |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for task in ["pos", "parsing"]:  # NER: 4 WikiANN targets, untestable (no row)
        g = perm[perm["task"] == task].dropna(subset=["rho", "p_max"])
        best = g.iloc[int(g["p_max"].to_numpy(dtype=float).argmin())]
        c = conf[(conf["task"] == task) & (conf["layer"] == best["layer"])].iloc[0]
        ok = survives_confounds(c.to_dict())
        lines.append(
            f"| {task} | {int(best['layer'])} | {c['rho']:.2f} | {best['p_max']:.3g} | "
            f"{c['partial_rho_all']:.2f} | {c['partial_p_all']:.3g} | "
            f"{c['partial_p_all_max']:.3g} | {c['lo_family_min']:.2f} (without "
            f"{c['lo_family_min_left_out']}) to {c['lo_family_max']:.2f} | "
            f"{c['r2_similarity']:.2f} | {c['r2_score']:.2f} | {'yes' if ok else 'no'} "
            f"({int(c['n_partial'])} targets) |")
    return "\n".join(lines)


def test_p6_confounds_doc_quotes_its_csvs() -> None:
    text = (DOCS / "p6-confounds.md").read_text(encoding="utf-8")
    assert _p6_confounds_markdown() in text
    text = " ".join(text.split())  # prose: line breaks anywhere
    cov = pd.read_csv(DOCS / "e5" / "p6" / "p6-covariates.csv").set_index("language")
    low, high = cov["subword_overlap"].idxmin(), cov["subword_overlap"].idxmax()
    assert (low, high) == ("ja", "es")
    assert f"from {cov.loc[low, 'subword_overlap']:.2f} (Japanese) to " \
           f"{cov.loc[high, 'subword_overlap']:.2f} (Spanish)" in text
    latin = cov["same_script"] == 1
    assert cov.loc[latin, "subword_overlap"].min() >= 0.36 and "at least 0.36" in text
    assert cov.loc[~latin, "subword_overlap"].max() <= 0.13 and "at most 0.13" in text
    assert f"{cov.loc['ja', 'script_share']:.0%} Hiragana" in text
    conf = pd.read_csv(DOCS / "e5" / "p6" / "p6-confounds.csv")
    first = conf.groupby("task").first()
    assert f"the 80%-power |ρ| is {first.loc['pos', 'mdr80_all']:.2f}" in text
    assert first.loc["ner", "n_partial"] == 4 and "4 of them are PUD languages" in text
    assert f"the 80%-power |ρ| is already {first.loc['ner', 'mdr80_raw']:.2f}" in text
    assert f"With 18 targets it is {first.loc['pos', 'mdr80_raw']:.2f}" in text
    assert f"and {first.loc['pos', 'mdr80_all']:.2f} with three" in text
    at5 = conf[conf["layer"] == 5].set_index("task")
    assert f"correlates at {at5.loc['pos', 'partial_rho_all']:.2f} (POS) and " \
           f"{at5.loc['parsing', 'partial_rho_all']:.2f} (parsing)" in text
    assert f"keeps ρ at {at5.loc['pos', 'lo_family_min']:.2f} and " \
           f"{at5.loc['parsing', 'lo_family_min']:.2f}" in text
    assert f"{at5.loc['pos', 'r2_similarity']:.0%} of that of the similarity" in text
    r2 = sorted(round(100 * v) for v in first.loc[["pos", "parsing"], "r2_score"])
    assert f"explain {r2[0]}-{r2[1]}% of the rank variance of the scores" in text
