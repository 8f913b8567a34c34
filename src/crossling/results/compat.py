"""Records written by older versions, upgraded to the current fields when they are read.

Fields added since 0.1 (`ScoreRow.source`; `SimilarityRow.task`, `seed`, `finetune_cell`)
are None in older CSVs, JSON files and stores; those versions kept the same facts as
provenance keys, which are read here, in one place, and nowhere else. A record with its fields
set is returned unchanged. Encoder names are never parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def upgrade_score(record: Mapping[str, Any]) -> dict[str, Any]:
    """A score record with ``source`` from the provenance when the row lacks it."""
    rec = dict(record)
    if rec.get("source") is None:
        source = (rec.get("provenance") or {}).get("source")
        rec["source"] = None if source is None else str(source)
    return rec


def upgrade_similarity(record: Mapping[str, Any]) -> dict[str, Any]:
    """A similarity record with ``task``, ``seed`` and ``finetune_cell`` from the provenance
    when the row has neither ``task`` nor ``finetune_cell``: the ``similarity_ft`` cell always
    recorded them there. The pretrained cells record a bootstrap ``seed`` but never a
    ``task``, so without a ``task`` the row is the pretrained model's (seed None)."""
    rec = dict(record)
    if rec.get("task") is not None or rec.get("finetune_cell") is not None:
        return rec
    prov = rec.get("provenance") or {}
    task, seed = prov.get("task"), prov.get("seed")
    rec["task"] = None if task is None else str(task)
    rec["seed"] = None if task is None or seed is None else int(seed)
    rec["finetune_cell"] = prov.get("finetune_cell")
    return rec
