"""Reading files: formats, compression, and exact record locations for error messages."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cs_health.exceptions import InvalidInput
from cs_health.ingestion.readers import read_table
from tests.factories import EVENTS, write_csv_text, write_records


def test_csv_locations_are_file_lines_with_the_header_as_line_one(tmp_path: Path):
    path = write_csv_text(tmp_path / "e.csv", "a,b\n1,2\n\n3,4,5\n6,7\n")
    raw = read_table(path)
    assert raw.frame["a"].tolist() == ["1", "6"]
    assert raw.locations.tolist() == [2, 5]
    assert [(reject.location, reject.field) for reject in raw.rejects] == [(4, "(row)")]
    assert "3 fields" in raw.rejects[0].reason


def test_quoted_line_breaks_keep_exact_lines(tmp_path: Path):
    path = write_csv_text(tmp_path / "e.csv", 'a,b\n"multi\nline",2\n3,4,5\n6,7\n')
    raw = read_table(path)
    assert raw.frame["a"].tolist() == ["multi\nline", "6"]
    assert raw.locations.tolist() == [2, 5]
    assert [reject.location for reject in raw.rejects] == [4]


def test_header_only_csv_has_no_records(tmp_path: Path):
    raw = read_table(write_csv_text(tmp_path / "e.csv", "account_id,event,timestamp\n"))
    assert len(raw.frame) == 0
    assert list(raw.frame.columns) == ["account_id", "event", "timestamp"]


def test_empty_csv_is_a_clear_error(tmp_path: Path):
    with pytest.raises(InvalidInput, match="empty"):
        read_table(write_csv_text(tmp_path / "e.csv", ""))


def test_zero_byte_gzip_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "e.csv.gz"
    path.write_bytes(b"")
    with pytest.raises(InvalidInput, match="0 bytes"):
        read_table(path)


def test_corrupt_gzip_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "e.csv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InvalidInput, match="gzip"):
        read_table(path)


def test_non_utf8_names_line_and_column(tmp_path: Path):
    path = tmp_path / "e.csv"
    path.write_bytes("a,b\n1,2\nx,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match=r"e\.csv:3:6: not valid UTF-8"):
        read_table(path)


def test_unknown_extension_is_refused(tmp_path: Path):
    path = write_csv_text(tmp_path / "e.xlsx", "a\n1\n")
    with pytest.raises(InvalidInput, match="unknown file type"):
        read_table(path)


def test_jsonl_bad_lines_become_rejects_with_line_numbers(tmp_path: Path):
    path = write_csv_text(tmp_path / "e.jsonl", '{"a": 1}\n\n{broken\n[1, 2]\n{"A": 2}\n')
    raw = read_table(path)
    assert raw.locations.tolist() == [1, 5]
    assert raw.frame["a"].tolist() == [1, 2]
    assert [(reject.location, reject.reason.split(" (")[0]) for reject in raw.rejects] == [
        (3, "not valid JSON"),
        (4, "not a JSON object"),
    ]


@pytest.mark.parametrize("name", ["e.csv", "e.csv.gz", "e.jsonl", "e.jsonl.gz", "e.parquet"])
def test_every_format_reads_the_same_records(tmp_path: Path, name: str):
    raw = read_table(write_records(tmp_path / name, EVENTS))
    assert len(raw.frame) == len(EVENTS)
    assert raw.frame["message_id"].astype(str).tolist() == [event["message_id"] for event in EVENTS]
    expected_first = 0 if name.endswith("parquet") else (1 if "jsonl" in name else 2)
    assert raw.locations[0] == expected_first
    assert raw.location_label == ("row index" if name.endswith("parquet") else "line")


def test_gzip_of_csv_reads_like_the_plain_file(tmp_path: Path):
    plain = write_csv_text(tmp_path / "e.csv", "a,b\n1,2\n")
    (tmp_path / "f.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert read_table(tmp_path / "f.csv.gz").frame.equals(read_table(plain).frame)


@pytest.mark.parametrize(("configured", "expected"), [(None, "system"), ("jemalloc", "jemalloc")])
def test_arrow_allocates_through_malloc_unless_a_pool_is_configured(configured: str | None, expected: str) -> None:
    """Ingestion's Arrow buffers come from the C library's malloc (mimalloc cost a 2M-event import a sixth more
    time, faulting freed memory back in); ARROW_DEFAULT_MEMORY_POOL still decides where a user set it."""
    environment = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    if configured:
        environment["ARROW_DEFAULT_MEMORY_POOL"] = configured
    probe = "import cs_health.ingestion.readers, pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    result = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == expected
