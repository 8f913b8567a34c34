"""The public surface of ``import crossling``: complete, lazy, and keyword-only past three."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import crossling

REPO = Path(__file__).resolve().parents[1]
MAX_POSITIONAL = 3
"""A public function with more parameters than this takes the rest keyword-only."""


def _public_functions() -> list[tuple[str, inspect.Signature]]:
    return [(name, inspect.signature(obj)) for name in crossling.__all__
            if inspect.isfunction(obj := getattr(crossling, name))]


def _positional(sig: inspect.Signature) -> list[inspect.Parameter]:
    return [p for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def test_every_public_name_resolves_and_is_listed() -> None:
    assert len(set(crossling.__all__)) == len(crossling.__all__)
    assert set(crossling.__all__) == {"__version__", *crossling._EXPORTS}
    for name in crossling.__all__:
        obj = getattr(crossling, name)
        assert obj is not None, name
        if name != "__version__" and not isinstance(obj, dict):
            assert inspect.getdoc(obj), f"crossling.{name} has no docstring"
    assert set(crossling.__all__) <= set(dir(crossling))
    assert crossling.MEASURES["debiased_cka"] is crossling.get_measure("debiased_cka")
    with pytest.raises(AttributeError, match="no_such_name"):
        crossling.no_such_name  # noqa: B018


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from crossling import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(crossling.__all__)


def test_import_crossling_loads_no_heavy_dependency() -> None:
    """``import crossling`` (and its light names) must not pay for torch or matplotlib."""
    code = ("import sys, crossling; crossling.__version__; crossling.ConfigError; "
            "dir(crossling); heavy = [m for m in ('torch', 'transformers', 'matplotlib', "
            "'pandas') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "src"),
                                                    "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == ""


def test_the_check_below_sees_the_public_functions() -> None:
    names = {name for name, _ in _public_functions()}
    assert {"cross_lingual_similarity", "model_similarity", "reinit", "build_report",
            "finetune", "run_study"} <= names


@pytest.mark.parametrize(("name", "sig"), _public_functions(), ids=lambda x: str(x)[:40])
def test_long_public_signatures_are_keyword_only(name: str, sig: inspect.Signature) -> None:
    params = list(sig.parameters.values())
    if len(params) <= MAX_POSITIONAL:
        return
    positional = _positional(sig)
    assert len(positional) <= MAX_POSITIONAL, (
        f"crossling.{name} takes {len(params)} parameters, {len(positional)} positionally: "
        f"put a `*` after at most {MAX_POSITIONAL}")
    # calling it with one argument more than it accepts positionally is refused at the call
    extra = [object()] * (len(positional) + 1)
    with pytest.raises(TypeError, match="positional argument"):
        sig.bind(*extra)
    with pytest.raises(TypeError, match="positional argument"):
        getattr(crossling, name)(*extra)

