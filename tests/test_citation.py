"""CITATION.cff: valid Citation File Format, the package's version, the paper it reproduces."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossling.core.version import __version__

CFF = Path(__file__).resolve().parents[1] / "CITATION.cff"


def test_the_citation_names_this_version_and_the_paper() -> None:
    cff = yaml.safe_load(CFF.read_text(encoding="utf-8"))
    assert str(cff["version"]) == __version__, "bump CITATION.cff's version with the package's"
    assert cff["type"] == "software" and cff["license"] == "MIT"
    (paper,) = cff["references"]
    assert paper["title"].startswith("First Align, then Predict")
    assert [a["family-names"] for a in paper["authors"]] == ["Muller", "Elazar", "Sagot",
                                                             "Seddah"]
    assert paper["year"] == 2021 and paper["doi"] == "10.18653/v1/2021.eacl-main.189"


def test_cffconvert_validates_the_citation() -> None:
    """The schema check GitHub's "Cite this repository" relies on (cffconvert, a dev tool)."""
    cffconvert = pytest.importorskip("cffconvert")
    cffconvert.Citation(CFF.read_text(encoding="utf-8")).validate()
    broken = CFF.read_text(encoding="utf-8").replace("type: software", "type: softwar")
    with pytest.raises(Exception, match="softwar"):
        cffconvert.Citation(broken).validate()
