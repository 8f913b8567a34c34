"""docs/model-families.md is what the generator writes from the registry and the tests."""

from __future__ import annotations

import os
from pathlib import Path

from crossling.models.families.table import support_table
from tests.models.test_families_end_to_end import COMMANDS
from tests.models.tiny_families import MODELS, TINY, VARIANTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "model-families.md"


def test_the_committed_support_table_is_the_generated_one() -> None:
    written = support_table({t: COMMANDS for t in MODELS})
    if os.environ.get("CROSSLING_WRITE_FAMILIES") == "1":
        DOC.write_text(written, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == written, \
        "docs/model-families.md is stale: CROSSLING_WRITE_FAMILIES=1 pytest " \
        "tests/models/test_family_table.py"
    for model_type in TINY:
        assert f"| {model_type} |" in written
    for variant, model_type in VARIANTS.items():
        assert f"| {model_type} ({variant}) |" in written
