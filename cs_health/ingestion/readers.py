"""Reads CSV, JSON Lines and Parquet files (optionally gzipped) into a frame with each record's location.

CSV goes through Arrow's parser; the file's physical line of each record is recovered exactly (a header is
line 1) and, when quoted values span lines, through the standard csv module instead. Structural faults
(a row with the wrong number of fields, a line that is not a JSON object) become rejects, not failures.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from cs_health.exceptions import InvalidInput
from cs_health.ingestion.rejects import Reject

FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
BOM = b"\xef\xbb\xbf"


@dataclass
class RawTable:
    """Records as read, before validation; `locations[i]` is where record i stands in the file."""

    frame: pd.DataFrame
    locations: np.ndarray
    location_label: str
    rejects: list[Reject] = field(default_factory=list)


def file_format(path: Path) -> tuple[str, bool]:
    """The format from the file name, and whether it is gzipped."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes = suffixes[:-1]
    kind = FORMATS.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise InvalidInput(f"{path}: unknown file type; use .csv, .jsonl or .parquet, optionally with .gz")
    return kind, gzipped


def read_table(path: Path) -> RawTable:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    kind, gzipped = file_format(path)
    if kind == "parquet" and not gzipped:
        return _read_parquet(path, path.read_bytes())
    data = _read_bytes(path, gzipped)
    if kind == "parquet":
        return _read_parquet(path, data)
    _check_utf8(path, data)
    data = data.removeprefix(BOM)
    return _read_csv(path, data) if kind == "csv" else _read_jsonl(path, data)


def _read_bytes(path: Path, gzipped: bool) -> bytes:
    raw = path.read_bytes()
    if not gzipped:
        return raw
    if not raw:
        raise InvalidInput(f"{path}: the file is empty (0 bytes), not a gzip archive")
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise InvalidInput(f"{path}: not a valid gzip archive ({error})") from error


def _check_utf8(path: Path, data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise InvalidInput(f"{path}:{line}:{column}: not valid UTF-8 text; save the file as UTF-8") from error


def _header(path: Path, data: bytes) -> list[str]:
    first_line = data.split(b"\n", 1)[0].decode("utf-8")
    columns = [name.strip().lower() for name in next(csv.reader([first_line]), [])]
    if not any(columns):
        raise InvalidInput(f"{path}: the file is empty; a CSV file needs a header line naming its columns")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise InvalidInput(f"{path}:1: the header repeats the column(s) {', '.join(duplicates)}")
    if "" in columns:
        raise InvalidInput(f"{path}:1:{columns.index('') + 1}: the header has a column without a name")
    return columns


def _read_csv(path: Path, data: bytes) -> RawTable:
    columns = _header(path, data)
    invalid: list[tuple[int, str, int]] = []

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        invalid.append((row.number or 0, row.text, row.actual_columns))
        return "skip"

    table = pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(column_names=columns, skip_rows=1, use_threads=False),
        parse_options=pa_csv.ParseOptions(
            invalid_row_handler=on_invalid_row, ignore_empty_lines=False, newlines_in_values=True
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=False
        ),
    )
    physical_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if table.num_rows + len(invalid) + 1 != physical_lines:
        return _read_csv_slowly(path, data, columns)
    is_record = np.ones(physical_lines + 1, dtype=bool)
    is_record[[0, 1, *(number for number, _, _ in invalid)]] = False
    locations = np.flatnonzero(is_record).astype(np.int64)
    rejects = [
        Reject(number, "(row)", f"has {actual} fields, the header has {len(columns)}", {"text": text})
        for number, text, actual in invalid
    ]
    frame = table.combine_chunks().to_pandas()
    return _drop_blank_rows(RawTable(frame, locations, "line", rejects))


def _read_csv_slowly(path: Path, data: bytes, columns: list[str]) -> RawTable:
    """Exact line numbers when quoted values hold line breaks (Arrow counts records, not lines)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    next(reader)
    rows: list[list[str]] = []
    locations: list[int] = []
    rejects: list[Reject] = []
    start = reader.line_num + 1
    for row in reader:
        if len(row) == len(columns):
            rows.append(row)
            locations.append(start)
        elif any(cell.strip() for cell in row):
            reason = f"has {len(row)} fields, the header has {len(columns)}"
            rejects.append(Reject(start, "(row)", reason, {"text": ",".join(row)}))
        start = reader.line_num + 1
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return _drop_blank_rows(RawTable(frame, np.array(locations, dtype=np.int64), "line", rejects))


def _drop_blank_rows(raw: RawTable) -> RawTable:
    if raw.frame.empty or not len(raw.frame.columns):
        return raw
    blank = np.ones(len(raw.frame), dtype=bool)
    for name in raw.frame.columns:  # column by column, over the rows still blank: usually one column's check
        candidates = np.flatnonzero(blank)
        if not len(candidates):
            break
        blank[candidates] = (raw.frame[name].iloc[candidates].astype(str).str.strip() == "").to_numpy(dtype=bool)
    if blank.any():
        raw.frame = raw.frame.loc[~blank].reset_index(drop=True)
        raw.locations = raw.locations[~blank]
    return raw


def _read_jsonl(path: Path, data: bytes) -> RawTable:
    records: list[dict[str, object]] = []
    locations: list[int] = []
    rejects: list[Reject] = []
    # JSON Lines are separated by \n alone: str.splitlines would also split inside strings at U+2028, \x85 and co.
    for number, line in enumerate(data.decode("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            rejects.append(Reject(number, "(line)", f"not valid JSON ({error.msg}, column {error.colno})"))
            continue
        if not isinstance(value, dict):
            rejects.append(Reject(number, "(line)", "not a JSON object", {"value": value}))
            continue
        records.append({str(key).strip().lower(): item for key, item in value.items()})
        locations.append(number)
    columns = dict.fromkeys(name for record in records for name in record)
    frame = pd.DataFrame({name: _object_column([record.get(name) for record in records]) for name in columns})
    return RawTable(frame, np.array(locations, dtype=np.int64), "line", rejects)


def _object_column(values: list[object]) -> pd.Series:
    """Values exactly as parsed: no inference, so a 3 stays 3 beside a 2.5 and a rejected value is quoted as sent."""
    return pd.Series(values, dtype=object)


def _read_parquet(path: Path, data: bytes) -> RawTable:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as error:
        raise InvalidInput(f"{path}: not a readable Parquet file ({error})") from error
    frame = table.combine_chunks().to_pandas()
    frame.columns = [str(name).strip().lower() for name in frame.columns]
    return RawTable(frame, np.arange(len(frame), dtype=np.int64), "row index")


def _json_column(values: list[object]) -> pd.Series:
    """A typed column when every value has one JSON type (text, whole numbers, numbers), which spares the
    validator its per-value type checks; anything mixed stays an object column and is checked value by value
    (so a 3 beside a 2.5 is quoted as sent, whatever its neighbours)."""
    kinds = set(map(type, values))
    if kinds <= {str, type(None)} and str in kinds:
        return pd.Series(values, dtype="string")
    if kinds == {int} and -(2**63) <= min(values) and max(values) < 2**63:
        return pd.Series(values, dtype="int64")
    if kinds - {type(None)} == {float}:
        return pd.Series(values, dtype="float64")
    return _object_column(values)


def json_records_table(records: list[dict[str, object]], locations: list[int], names: Iterable[str]) -> RawTable:
    """Parsed JSON objects (an HTTP request's items) as a file reader would give them: the contract's fields
    first, then any extras (kept as properties for events), located by their 0-based index in the request."""
    names = list(names)
    extras = set().union(*records).difference(names) if records else set()
    columns = [*names, *sorted(extras)]
    frame = pd.DataFrame({name: _json_column([record.get(name) for record in records]) for name in columns})
    return RawTable(frame, np.asarray(locations, dtype=np.int64), "index")
