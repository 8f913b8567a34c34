"""Per-sentence counts: compact and exact to store, read back by (set, metric), or nothing."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from crossling.core.errors import DataError
from crossling.results import (
    ScoreRow,
    SentenceCounts,
    pack_values,
    read_sentence_counts,
    unpack_values,
    with_sentence_counts,
    write_sentence_counts,
)


def _row(language: str, metric: str, counts: SentenceCounts | None) -> ScoreRow:
    value = counts.value() if counts else 50.0
    return ScoreRow("ner", language, "test", metric, value, 0.0, 100.0, 3, 7, "m", "REF", 0,
                    source="en", sentences=counts)


def test_values_pack_compactly_and_round_trip_exactly() -> None:
    values = (3.0, 0.0, 12.0, 0.1, 1 / 3, 1e-300)
    text = pack_values(values)
    assert text.startswith("3,0,12,0.1,")  # integral counts take no ".0"
    assert unpack_values(text) == values
    assert unpack_values(pack_values(())) == ()


def test_counts_give_the_corpus_ratio_with_their_scale() -> None:
    f1 = SentenceCounts((1.0, 0.0, 2.0), (2.0, 1.0, 4.0), 200.0)
    assert f1.value() == 200.0 * 3 / 7
    assert math.isnan(SentenceCounts((0.0,), (0.0,), 100.0).value())
    assert SentenceCounts((0.0,), (0.0,), 100.0).value(zero_division=0.0) == 0.0
    with pytest.raises(ValueError, match="2 numerators but 1 denominators"):
        SentenceCounts((1.0, 2.0), (3.0,), 100.0)


def test_a_run_folder_file_reads_back_by_set_and_metric(tmp_path: Path) -> None:
    f1 = SentenceCounts((1.0, 0.0, 2.0), (2.0, 1.0, 4.0), 200.0)
    rec = SentenceCounts((1.0, 0.0, 2.0), (1.0, 0.0, 2.0), 100.0)
    rows = [_row("de", "span_f1", f1), _row("de", "span_recall", rec),
            _row("en", "span_f1", None)]
    path = write_sentence_counts(tmp_path / "s.csv.gz", rows)
    back = read_sentence_counts(path)
    assert back == {("de", "span_f1"): f1, ("de", "span_recall"): rec}
    # the same rows give the same bytes (no time or name in the gzip header)
    again = write_sentence_counts(tmp_path / "t.csv.gz", rows)
    assert path.read_bytes() == again.read_bytes()
    plain = [_row(r.language, r.metric, None) for r in rows]
    attached = with_sentence_counts(plain, back)
    assert [r.sentences for r in attached] == [f1, rec, None]
    assert attached == plain  # the counts are no stored column: rows compare as before
    assert read_sentence_counts(tmp_path / "absent.csv.gz") == {}  # a run of an older version


def test_a_malformed_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("language,metric,sentence,num,den,scale\nde,uas,0,1,2,100\nde,uas,2,1,2,100\n")
    with pytest.raises(DataError, match=r"s\.csv\.gz:3: sentence 2 out of order"):
        read_sentence_counts(path)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("language,metric\n")
    with pytest.raises(DataError, match=r"s\.csv\.gz:1: expected the header"):
        read_sentence_counts(path)
