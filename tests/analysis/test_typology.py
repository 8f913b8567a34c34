from __future__ import annotations

import warnings

import numpy as np
import pytest

from crossling.analysis.typology import FEATURE_SETS, PUD_ISO3, _vectors, distance_to
from crossling.core.errors import ConfigError

PUD_TARGETS = ["ar", "cs", "de", "es", "fi", "fr", "hi", "id", "it", "ja", "ko", "pl", "pt",
               "ru", "sv", "th", "tr", "zh"]


def test_every_pud_target_resolves_with_its_preferred_code() -> None:
    d = distance_to()
    assert sorted(d.index) == PUD_TARGETS
    assert d.index.name == "language" and d.name == "syntax_knn_distance"
    assert ((d >= 0) & (d <= 2)).all() and (d > 0).all()
    preferred = [codes[0] for codes in PUD_ISO3.values()]
    assert set(_vectors("syntax_knn", preferred)) == set(preferred)  # no fallback needed


def test_english_is_at_distance_zero_and_labels_are_accepted() -> None:
    d = distance_to(["en", "fr_pud", "fr", "ja"])
    assert list(d.index) == ["en", "fr", "ja"]
    assert d["en"] == pytest.approx(0.0, abs=1e-12)


def test_european_languages_are_syntactically_closer_than_ja_ko_th() -> None:
    """Checked on the real URIEL data: the farthest of de/fr/es/it/pt/sv (fr, 0.19) is
    nearer to English than the nearest of ja/ko/th (th, 0.36)."""
    d = distance_to()
    assert d[["de", "fr", "es", "it", "pt", "sv"]].max() < d[["ja", "ko", "th"]].min()


@pytest.mark.parametrize("feature_set", sorted(FEATURE_SETS))
def test_every_offered_feature_set_gives_distances_in_range(feature_set: str) -> None:
    d = distance_to(["en", "de", "ja"], feature_set=feature_set)
    assert d["en"] == pytest.approx(0.0, abs=1e-12)
    assert ((d >= 0) & (d <= 2)).all()
    if feature_set == "fam":  # German shares Indo-European/Germanic with English
        assert d["de"] < d["ja"] == pytest.approx(1.0)


def test_vectors_are_lang2vecs_own() -> None:
    """Against lang2vec's reader, where its pkg_resources import works."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        l2v = pytest.importorskip("lang2vec.lang2vec")
    codes = ["eng", "arb", "cmn", "jpn"]
    for feature_set in ("syntax_knn", "phonology_knn", "inventory_knn"):
        ours = _vectors(feature_set, codes)
        theirs = l2v.get_features(codes, feature_set)
        for code in codes:
            assert np.array_equal(ours[code], np.asarray(theirs[code], dtype=float))


def test_unknown_language_or_feature_set_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match=r"'xx'; known: ar, cs, de") as err:
        distance_to(["de", "xx"])
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="known: syntax_knn"):
        distance_to(["de"], feature_set="syntax_wals")


def test_distances_do_not_import_the_shadowing_lang2vec_script(monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """lang2vec installs bin/lang2vec.py; under the `crossling` console script that folder is
    first on sys.path and `import lang2vec` ran the script (which failed): the data files are
    found through the distribution's metadata instead, whatever sys.path says."""
    import sys
    import sysconfig

    monkeypatch.syspath_prepend(sysconfig.get_path("scripts"))
    monkeypatch.delitem(sys.modules, "lang2vec", raising=False)
    assert distance_to(["fr"]).loc["fr"] > 0
    assert "lang2vec" not in sys.modules


def test_families_are_the_top_glottolog_clade_and_its_branch() -> None:
    from crossling.analysis.typology import families

    fam = families()
    assert sorted(fam.index) == sorted(PUD_ISO3)
    indo = {"en", "cs", "de", "es", "fr", "hi", "it", "pl", "pt", "ru", "sv"}
    assert set(fam[fam == "Indo-European"].index) == indo
    assert fam["fi"] == "Uralic" and fam["zh"] == "Sino-Tibetan" and fam["ar"] == "Afro-Asiatic"
    assert fam[["ja", "ko", "th", "tr", "id"]].nunique() == 5  # no two of them share a family
    branch = families(["de", "sv", "fr_pud", "pt", "ru", "pl"], level="branch")
    assert branch["de"] == branch["sv"] == "Germanic" and branch["fr"] == branch["pt"]
    assert branch["ru"] == branch["pl"] != branch["de"]
    with pytest.raises(ConfigError, match="family level"):
        families(level="genus")
    with pytest.raises(ConfigError, match="xx"):
        families(["xx"])
