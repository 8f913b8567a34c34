"""Refactoring changes no number: a small study's report is byte-identical to the committed one.

A 2-block random BERT with a fixed WordPiece vocabulary (built from the fixture treebank's words,
so it is the same on every machine: a trained tokenizer is not) runs a study of every cell kind
(pretrained, fine-tuned and seed-vs-seed similarity with the layer difference, fine-tuning of
the three tasks with a re-init group and two seeds, retrieval, probing) on one torch thread, and
`crossling report` draws it. Every CSV, the verdicts and the Markdown (report.md and README.md)
must equal ``tests/fixtures/golden/``, after masking what names the checkout or the clock:
the git commit, package versions and the compute time (an absolute path fails the test). The
run takes the crossling version of the golden files (`GOLDEN_VERSION`), so a version bump
changes no byte.

``CROSSLING_WRITE_GOLDEN=1 pytest tests/test_golden.py`` rewrites the golden files, for a change
that is meant to change results (say so in CHANGELOG.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

from crossling.cli import main
from crossling.core import version
from crossling.core.provenance import git_commit
from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import resolve_ud
from tests.conftest import FIXTURE_LANGS, FIXTURES, build_tiny_model
from tests.pathleaks import absolute_paths

GOLDEN = FIXTURES / "golden"
GOLDEN_VERSION = "0.3.0"
"""The crossling version the golden outputs were written under: the cells' keys hash it, and
the fine-tuned similarity rows name their fine-tuning cell by key, so the run pretends to be it
(a key that changes for any other reason still fails the test)."""

STUDY = """
name: golden
model: {model}
data: {{ud: {ud}, ner: {ner}}}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr, de],
         max_train_sentences: 16, max_eval_sentences: 8}}
  parsing: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr, de],
             max_train_sentences: 16, max_eval_sentences: 8}}
  ner: {{eval: [de], max_train_sentences: 16, max_eval_sentences: 8, reinit: [REF]}}
reinit: [REF, 1-1]
seeds: [0, 1]
training: {{epochs: 1, batch_size: 8, max_length: 64}}
similarity: {{languages: [fr, de], n: 12, n_boot: 10, n_null: 5,
              measures: [linear_cka, debiased_cka], seed_pairs: true, layer_difference: true}}
retrieval: {{languages: [fr, de], n: 12, n_boot: 10, n_null: 5}}
probe: {{targets: [fr, de], max_train_sentences: 16, max_eval_sentences: 8, n_boot: 10}}
"""


def _fixed_vocab_model(folder: Path) -> Path:
    """A 2-block BERT whose vocabulary is the fixture's characters and words, in sorted order."""
    from transformers import BertTokenizerFast

    corpus = align_by_sent_id({lang: resolve_ud(FIXTURES / "ud", lang) for lang in FIXTURE_LANGS})
    texts = [t for lang in corpus.languages for t in corpus.texts[lang]]
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    words = sorted({w for t in texts for w in t.split()} - set(chars))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *("##" + c for c in chars),
             *words]
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)
    return build_tiny_model(folder, "bert", tokenizer, layers=2)


def _mask(text: str) -> str:
    """``text`` without what names the checkout or the clock (paths are refused, not masked)."""
    commit = git_commit()
    if commit:
        text = text.replace(commit, "<commit>")
    text = re.sub(r"^(version: [^,]+),.*$", r"\1,<version>", text, flags=re.M)
    text = re.sub(r"^\| version: ([^|]+) \| [^|]+ \|$", r"| version: \1 | <version> |", text,
                  flags=re.M)
    text = re.sub(r"^- \*\*crossling\*\*: .*$", "- **crossling**: <version>", text, flags=re.M)
    text = re.sub(r"^- \*\*compute\*\*: .*$", "- **compute**: <wall-clock time>", text, flags=re.M)
    return text


def _outputs(report: Path) -> list[Path]:
    return sorted([*report.glob("*.csv"), report / "report.md", report / "README.md"])


@pytest.fixture(scope="module")
def golden_report(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("golden")
    model = _fixed_vocab_model(tmp / "model")
    study = tmp / "golden.yaml"
    study.write_text(STUDY.format(model=model, ud=data_dir / "ud", ner=data_dir / "ner"),
                     encoding="utf-8")
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(version, "__version__", GOLDEN_VERSION)
        try:  # one thread: sums in another order change the last digits
            assert main(["run", str(study), "--store", str(tmp / "s.sqlite"),
                         "--threads", "1"]) == 0
        finally:
            torch.set_num_threads(threads)
        assert main(["report", str(study), "--store", str(tmp / "s.sqlite"),
                     "--out", str(tmp / "report")]) == 0
    return tmp


@pytest.mark.slow
def test_the_report_is_byte_identical_to_the_golden_one(golden_report: Path) -> None:
    report = golden_report / "report"
    raw = {p.name: p.read_text(encoding="utf-8") for p in _outputs(report)}
    # no path of the machine at all: the model is named by its name (the study ran from a
    # temporary folder, so any absolute path would be one of it), data files by folder and name
    paths = {name: absolute_paths(text) for name, text in raw.items() if absolute_paths(text)}
    assert not paths, f"absolute paths in the report: {paths}"
    written = {name: _mask(text) for name, text in raw.items()}
    assert "verdicts.csv" in written and "p2-contrasts.csv" in written
    if os.environ.get("CROSSLING_WRITE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.iterdir():
            old.unlink()
        for name, text in written.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in sorted(GOLDEN.iterdir())}
    assert sorted(written) == sorted(expected)
    differ = [name for name, text in written.items() if text != expected[name]]
    assert not differ, f"differ from tests/fixtures/golden: {', '.join(differ)}"
