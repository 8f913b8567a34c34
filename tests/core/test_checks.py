"""Seeds and counts given through the Python API: one line naming the setting, before any data
or model is read (``seed=-1`` or ``2**40`` ended in numpy's traceback once the model had
loaded, ``n_boot=10.5`` in one deep inside the resampling code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crossling.core.checks import SEED_MAX, check_count, check_seed
from crossling.core.errors import ConfigError, SettingError

SEEDS = [-1, 2**32, 2**40, 1.0, True, "0", None]


def _no_model(*a: Any, **k: Any) -> None:
    raise AssertionError("the model was loaded")


@pytest.mark.parametrize("seed", SEEDS)
def test_check_seed_refuses_what_a_generator_cannot_take(seed: Any) -> None:
    with pytest.raises(SettingError, match=rf"^seed must be an integer in \[0, {SEED_MAX}\], "
                                           rf"got {seed!r}"):
        check_seed(seed)
    assert check_seed(np.int64(7)) == 7 and check_seed(SEED_MAX) == SEED_MAX
    np.random.seed(SEED_MAX)  # the largest seed is one numpy takes


@pytest.mark.parametrize("value", [10.5, True, "3", None])
def test_check_count_refuses_floats_bools_and_strings(value: Any) -> None:
    with pytest.raises(SettingError, match=r"^n_boot must be an integer >= 0, got "):
        check_count("n_boot", value)
    assert check_count("n", np.int32(3)) == 3


def test_check_count_names_the_bound_it_misses() -> None:
    with pytest.raises(SettingError, match=r"^n_boot = -1: must be >= 0$"):
        check_count("n_boot", -1)
    with pytest.raises(SettingError, match=r"^k = 0: must be > 0$"):
        check_count("k", 0, 1)


@pytest.mark.parametrize(("setting", "value"), [
    ("seed", -1), ("seed", 2**40), ("n_boot", 10.5), ("n_null", True), ("n", 12.0),
    ("batch_tokens", 0.5)])
def test_similarity_and_retrieval_refuse_before_loading(
        setting: str, value: Any, fixture_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossling.retrieval.settings import RetrievalSettings
    from crossling.similarity.settings import SimilaritySettings
    from crossling.workflows.retrieval import run_retrieval
    from crossling.workflows.similarity import run_similarity

    monkeypatch.setattr("crossling.workflows.similarity.load_encoder", _no_model)
    monkeypatch.setattr("crossling.workflows.retrieval.load_encoder", _no_model)
    runs = [lambda: run_similarity("m", fixture_dir / "ud", "en", targets=["fr"],
                                   settings=SimilaritySettings(**{setting: value})),
            lambda: run_retrieval("m", fixture_dir / "ud", "en", targets=["fr"],
                                  settings=RetrievalSettings(**{setting: value}))]
    for run in runs:
        with pytest.raises(ConfigError, match=rf"^{setting} must be an integer") as info:
            run()
        assert "\n" not in str(info.value)


def test_functions_on_a_loaded_encoder_check_the_seed_and_counts(fixture_dir: Path) -> None:
    """``cross_lingual_similarity`` and friends take an encoder: the check comes before any
    sentence is encoded (the encoder is never touched here)."""
    from crossling.data.parallel import align_pud
    from crossling.retrieval.rows import cross_lingual_retrieval
    from crossling.retrieval.settings import RetrievalSettings
    from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
    from crossling.similarity.settings import SimilaritySettings

    corpus = align_pud(fixture_dir / "ud", ["en", "fr"])
    enc: Any = None
    calls = [
        lambda **k: cross_lingual_similarity(
            enc, corpus, "en", targets=["fr"],
            settings=SimilaritySettings(measures=["linear_cka"], **k)),
        lambda **k: model_similarity(
            enc, enc, corpus, languages=["en"],
            settings=SimilaritySettings(measures=["linear_cka"], **k)),
        lambda **k: cross_lingual_retrieval(enc, corpus, "en", targets=["fr"],
                                            settings=RetrievalSettings(**k))]
    for call in calls:
        with pytest.raises(SettingError, match=r"^seed must be an integer in"):
            call(seed=-1)
        with pytest.raises(SettingError, match=r"^n_boot must be an integer >= 0, got 10\.5"):
            call(n_boot=10.5)


@pytest.mark.parametrize("seed", [-1, 2**40])
def test_probe_refuses_a_seed_before_loading(seed: int, fixture_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from crossling.probing.settings import ProbeSettings

    with pytest.raises(ConfigError, match=r"^seed must be an integer in \[0, "):
        ProbeSettings(source_train="en", source="en", targets=["fr"], seed=seed)


@pytest.mark.parametrize("seed", [-1, 2**70])
def test_reinit_and_fit_check_their_seed_first(seed: int) -> None:
    from crossling.models.reinit import ReinitSettings
    from crossling.training.loop import FitOptions

    with pytest.raises(SettingError, match=r"^seed must be an integer in"):
        ReinitSettings(seed=seed)
    with pytest.raises(SettingError, match=r"^seed must be an integer in"):
        FitOptions(seed=seed)


def test_run_similarity_refuses_a_negative_n(fixture_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``n=-5`` sliced the aligned sentences to all but the last 5, silently."""
    from crossling.similarity.settings import SimilaritySettings
    from crossling.workflows.similarity import run_similarity

    monkeypatch.setattr("crossling.workflows.similarity.load_encoder", _no_model)
    for n in (-5, 0):
        with pytest.raises(SettingError, match=rf"^n = {n}: must be > 0$"):
            run_similarity("m", fixture_dir / "ud", "en", targets=["fr"],
                           settings=SimilaritySettings(n=n))


def test_a_numpy_seed_is_recorded_as_an_int(fixture_dir: Path) -> None:
    """A run's settings (its manifest and key) hold the seed as an int: numpy's np.int64(3)
    was written as the string "3", another key than the same run with seed 3."""
    from crossling.data.specs import TaskFiles
    from crossling.workflows.finetune import FinetuneSettings, manifest_settings

    en = fixture_dir / "ud" / "UD_English-Fixture" / "en_fixture-ud-test.conllu"
    files = TaskFiles([en], [en], "en", {"en": en})
    settings = manifest_settings(FinetuneSettings(task="pos", model="m", seed=np.int64(3)), files)
    assert type(settings["seed"]) is int and settings["seed"] == 3
    assert settings == manifest_settings(FinetuneSettings(task="pos", model="m", seed=3), files)
