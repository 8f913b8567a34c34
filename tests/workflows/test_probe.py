"""The probe workflow end to end: rows, checks before any work, layers found where planted.

The service tests run on synthetic treebanks whose training and test words are disjoint
(so a probe cannot score by memorising word identity) and whose tags are drawn at random per
word type (so nothing in a word's spelling predicts its tag):

- a random tiny BERT carries no tag information: the probe is near the majority baseline on
  the unseen words, at every layer;
- a "planted" encoder writes each word's tag linearly into one hidden state only and noise
  elsewhere: the probe finds that layer (~100%), stays near majority elsewhere, and is
  selective there (its control probe cannot guess the random tags of unseen types).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from crossling.analysis.probing import best_layers, probe_frame
from crossling.core.errors import ConfigError, CrosslingError
from crossling.models.encoder import Encoder, load_encoder, load_tokenizer
from crossling.probing.settings import ProbeSettings
from crossling.results import PROBE_TASK, ScoreRow
from crossling.workflows.probe import probe

TAGS = {"NOUN": 0.4, "VERB": 0.3, "ADJ": 0.2, "ADV": 0.1}
PLANTED_LAYER = 2


# --- synthetic treebanks -----------------------------------------------------------------------


def _single_token_words(tokenizer: Any, n: int) -> list[str]:
    """``n`` alphabetic vocabulary entries (any script) that the tokenizer keeps as one
    sub-word (the tiny WordPiece vocabulary has about 220)."""
    words = []
    for piece in sorted(tokenizer.get_vocab()):
        if piece.isalpha() and len(piece) >= 2 and \
                len(tokenizer(piece, add_special_tokens=False)["input_ids"]) == 1:
            words.append(piece)
    if len(words) < n:
        pytest.skip(f"tokenizer has only {len(words)} single-token words")
    random.Random(0).shuffle(words)
    return words[:n]


def _write_conllu(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    lines = []
    for i, sent in enumerate(sentences):
        lines.append(f"# sent_id = s{i}")
        for j, (word, tag) in enumerate(sent, start=1):
            lines.append(f"{j}\t{word}\t{word}\t{tag}\t_\t_\t{0 if j == 1 else 1}\t"
                         f"{'root' if j == 1 else 'dep'}\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _treebanks(folder: Path, tokenizer: Any) -> tuple[dict[str, Path], dict[str, str]]:
    """Train / source-test / target-test files over three disjoint word sets; each word type
    has one tag, drawn from :data:`TAGS`. Returns the files and the tag of every word."""
    words = _single_token_words(tokenizer, 200)
    rng = random.Random(1)
    tag_of = {w: rng.choices(list(TAGS), weights=list(TAGS.values()))[0] for w in words}
    pools = {"train": words[:100], "test": words[100:150], "target": words[150:]}
    sizes = {"train": 240, "test": 50, "target": 50}
    files = {}
    for name, pool in pools.items():
        sents = [[(w, tag_of[w]) for w in rng.choices(pool, k=8)] for _ in range(sizes[name])]
        files[name] = _write_conllu(folder / f"{name}.conllu", sents)
    return files, tag_of


class _Planted(nn.Module):
    """A stand-in encoder: hidden state ``PLANTED_LAYER`` holds a scaled one-hot of each
    token's tag (plus noise); every other state is noise (no word identity either)."""

    def __init__(self, tag_index: torch.Tensor, n_blocks: int = 3, dim: int = 16) -> None:
        super().__init__()
        self.register_buffer("tag_index", tag_index)
        # its family (blocks at encoder.layer) and width (the memory estimate reads it)
        self.config = SimpleNamespace(model_type="bert", hidden_size=dim)
        self.encoder = nn.Module()  # what transformer_layers looks for
        self.encoder.layer = nn.ModuleList(nn.Linear(1, 1) for _ in range(n_blocks))
        self.n_states, self.dim = n_blocks + 1, dim

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, output_hidden_states: bool = True,
                return_dict: bool = True) -> SimpleNamespace:
        gen = torch.Generator().manual_seed(int(input_ids.sum()))
        states = [torch.randn(*input_ids.shape, self.dim, generator=gen)
                  for _ in range(self.n_states)]
        tags = self.tag_index[input_ids]
        onehot = torch.zeros(*input_ids.shape, self.dim)
        onehot[tags >= 0] = 6.0 * nn.functional.one_hot(tags[tags >= 0], self.dim).float()
        states[PLANTED_LAYER] = states[PLANTED_LAYER] + onehot
        return SimpleNamespace(hidden_states=tuple(states))


def _planted_encoder(tiny_bert: Path, tag_of: dict[str, str]) -> Encoder:
    tok = load_tokenizer(str(tiny_bert))
    index = torch.full((len(tok),), -1, dtype=torch.long)
    names = sorted(TAGS)
    for word, tag in tag_of.items():
        index[tok.convert_tokens_to_ids(word)] = names.index(tag)
    return Encoder(model=_Planted(index), tokenizer=tok, name="planted")


def _run(model: str | Encoder, files: dict[str, Path], **kwargs: Any) -> list[ScoreRow]:
    settings = ProbeSettings(**{"n_boot": 50, "device": "cpu", "source_train": files["train"],
                                "source": files["test"], "targets": [files["target"]],
                                **kwargs})
    return probe(model, files["train"].parent, settings, progress=False)


def _best_constant(path: Path) -> float:
    """Accuracy (%) of always answering the set's own most frequent tag: what a probe without
    information can reach when the set's tag mix differs from training's (50 word types per
    set, so it does)."""
    from crossling.data.conllu import read_conllu

    tags = Counter(t for s in read_conllu(path) for t in s.upos)
    return 100 * max(tags.values()) / sum(tags.values())


def _acc(rows: list[ScoreRow], language: str, metric: str = "upos_acc") -> dict[int | None, float]:
    return {r.layer: r.value for r in rows if r.language == language and r.metric == metric}



# --- tests -------------------------------------------------------------------------------------


def test_random_encoder_is_near_majority_on_unseen_words(tiny_bert: Path,
                                                         tmp_path: Path) -> None:
    files, _ = _treebanks(tmp_path, load_tokenizer(str(tiny_bert)))
    rows = _run(str(tiny_bert), files)
    for name in ("test", "target"):
        lang, ceiling = str(files[name]), _best_constant(files[name])
        accs = _acc(rows, lang)
        assert set(accs) == set(range(5))  # embeddings + 4 blocks
        assert all(a < ceiling + 10 for a in accs.values()), (ceiling, accs)


def test_probe_finds_the_layer_where_the_tag_is_linearly_encoded(tiny_bert: Path,
                                                                  tmp_path: Path) -> None:
    tok = load_tokenizer(str(tiny_bert))
    files, tag_of = _treebanks(tmp_path, tok)
    rows = _run(_planted_encoder(tiny_bert, tag_of), files, seed=5)
    assert {r.task for r in rows} == {PROBE_TASK} and {r.seed for r in rows} == {5}
    for name in ("test", "target"):
        lang, ceiling = str(files[name]), _best_constant(files[name])
        accs = _acc(rows, lang)
        assert accs[PLANTED_LAYER] > 95
        assert all(a < ceiling + 10 for k, a in accs.items() if k != PLANTED_LAYER), accs
        # the control probe cannot guess random tags of unseen types: selective at that layer
        assert _acc(rows, lang, "selectivity")[PLANTED_LAYER] > 40
    best = best_layers(probe_frame(rows))
    assert best["best_layer"].tolist() == [PLANTED_LAYER, PLANTED_LAYER]
    assert best["role"].tolist() == ["source", "target"]
    # rows carry what they were computed on
    row = next(r for r in rows if r.metric == "upos_acc" and r.layer == PLANTED_LAYER)
    assert row.source == str(files["test"]) and row.n_sentences == 50 and row.n_units == 400
    assert row.ci_low <= row.value <= row.ci_high
    assert row.provenance["probe"]["l2"] > 0 and row.provenance["n_train_sentences"] == 240
    sel = next(r for r in rows if r.metric == "selectivity" and r.layer == PLANTED_LAYER
               and r.language == row.language)
    ctl = next(r for r in rows if r.metric == "control_acc" and r.layer == PLANTED_LAYER
               and r.language == row.language)
    assert sel.value == pytest.approx(row.value - ctl.value)


def test_only_the_asked_layers_and_a_training_subsample(tiny_bert: Path, tmp_path: Path) -> None:
    files, _ = _treebanks(tmp_path, load_tokenizer(str(tiny_bert)))
    rows = _run(str(tiny_bert), files, layers=[4, 0], max_train_sentences=30, n_boot=0)
    assert {r.layer for r in rows} == {None, 0, 4}
    assert rows[0].provenance["n_train_sentences"] == 30
    assert all(np.isnan(r.ci_low) for r in rows)  # n_boot 0: no interval


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layers": [0, 5]}, r"layers must be in 0\.\.4 \(0 = embeddings\), got 5"),
    ({"layers": [1, 1]}, r"layers 1 is given twice"),
    ({"layers": []}, r"layers must not be empty"),
    ({"n_boot": -1}, r"n_boot = -1: must be >= 0"),
    ({"max_train_sentences": 0}, r"max_train_sentences = 0: must be > 0"),
    ({"l2": float("nan")}, r"l2 must be a finite number"),
    ({"device": "tpu"}, r"tpu"),
])
def test_bad_options_are_one_line_errors_before_any_work(tiny_bert: Path, tmp_path: Path,
                                                         kwargs: dict[str, Any],
                                                         message: str) -> None:
    files, _ = _treebanks(tmp_path, load_tokenizer(str(tiny_bert)))
    with pytest.raises(ConfigError, match=message) as err:
        _run(str(tiny_bert), files, **kwargs)
    assert "\n" not in str(err.value)


def test_targets_are_checked(tiny_bert: Path, ud_dir: Path) -> None:
    for targets, message in ((["fr", "fr"], "'fr' is given twice"),
                             (["en"], "'en' is the source test set"), ([], "must not be empty"),
                             (["xx"], "unknown language 'xx'")):
        with pytest.raises(ConfigError, match=message):
            probe(str(tiny_bert), ud_dir, ProbeSettings(targets=targets), progress=False)


# --- inputs that cannot give a result (issue 25) -----------------------------------------------


def test_nan_word_vectors_are_refused_naming_the_layer(tiny_bert: Path, tmp_path: Path) -> None:
    """A NaN weight in block 2 makes hidden states 3 and 4 NaN: the probe refuses them in one
    line instead of fitting a probe on NaN and reporting its accuracy."""
    files, _ = _treebanks(tmp_path, load_tokenizer(str(tiny_bert)))
    enc = load_encoder(str(tiny_bert), device="cpu")
    with torch.no_grad():
        enc.model.encoder.layer[2].output.dense.weight[0, 0] = float("nan")
    with pytest.raises(CrosslingError, match=(
            rf"^layer 3 of {files['train']} \(training words\): word vectors contain NaN "
            r"\(non-finite values in \d+ of \d+ rows\)$")) as err:
        _run(enc, files, layers=[1, 3], n_boot=0)
    assert "\n" not in str(err.value)
    rows = _run(enc, files, layers=[0, 2], n_boot=0)
    assert {r.layer for r in rows} == {None, 0, 2}


def test_a_bare_string_target_and_layer_are_one_of_each(tiny_bert: Path, tmp_path: Path) -> None:
    files, _ = _treebanks(tmp_path, load_tokenizer(str(tiny_bert)))
    settings = ProbeSettings(source_train=str(files["train"]), source=str(files["test"]),
                             targets=str(files["target"]), layers=4, n_boot=0, device="cpu")
    rows = probe(str(tiny_bert), files["train"].parent, settings, progress=False)
    assert {r.language for r in rows} == {str(files["test"]), str(files["target"])}
    assert {r.layer for r in rows} == {None, 4}


def test_a_bootstrap_beyond_memory_is_refused_before_the_model_loads(
        tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossling.workflows import probe as probing

    files, _ = _treebanks(tmp_path, load_tokenizer(str(tiny_bert)))

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the memory check")

    monkeypatch.setattr(probing, "load_encoder", no_model)
    with pytest.raises(ConfigError, match=r"^n_boot = 1000000000000: the bootstrap of 50 test "
                                          r"sentences would take about .* of memory "
                                          r"\(estimate\), more than the .* available$"):
        _run(str(tiny_bert), files, n_boot=10**12)
