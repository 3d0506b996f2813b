"""Session ids: random, well-formed, and never hidden from a data scientist's dataset read."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from pipeline.export import write_table
from pipeline.session import export_key, is_valid_session_id, new_session_id, session_prefix


def test_new_ids_are_valid_unique_and_start_with_a_letter_or_digit() -> None:
    ids = [new_session_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(is_valid_session_id(i) and i[0].isalnum() and len(i) == 22 for i in ids)
    # the retry keeps "-" and "_" inside ids (the alphabet stays URL-safe base64)
    assert any("_" in i[1:] or "-" in i[1:] for i in ids)


@pytest.mark.parametrize("bad", ["_PvpbZsnivL1j88lmYkeBQ", "-PvpbZsnivL1j88lmYkeBQ", ".PvpbZsnivL1j88lmYke",
                                 "short", "a" * 65, "abc/../../etc/passwd", "PvpbZsnivL1j88lm YkeBQ", ""])
def test_malformed_ids_are_rejected(bad: str) -> None:
    assert not is_valid_session_id(bad)
    with pytest.raises(ValueError, match="malformed session id"):
        session_prefix(bad)


def test_every_exported_session_is_seen_by_a_hive_dataset_read(tmp_path) -> None:
    ids = [new_session_id() for _ in range(64)]
    for i, sid in enumerate(ids):
        table = pa.table({"session_id": [sid] * 3, "frame": [0, 1, 2]})
        write_table(table, tmp_path / export_key("angles", "running", f"2026-11-{1 + i % 28:02d}", sid))
    read = ds.dataset(tmp_path / "exports/angles", format="parquet", partitioning="hive").to_table(
        filter=ds.field("activity") == "running")
    assert sorted(set(read["session_id"].to_pylist())) == sorted(ids)
    assert read.num_rows == 3 * len(ids)
