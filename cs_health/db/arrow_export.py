"""The child-process half of a columnar SQLite read (see cs_health/db/frames.py); imports no cs_health code.

The ADBC driver links its own copy of SQLite. Two copies in one process break each other's POSIX locks: closing
one copy's file releases the locks the other holds, and the closing copy, believing itself the last connection,
checkpoints and deletes the write-ahead log the other is still writing to; those writes are then lost
(https://www.sqlite.org/howtocorrupt.html, "multiple copies of SQLite linked into the same application"). A child
process is an ordinary second SQLite client, which the locking protocol is built for.

The child also does the per-row work of the read, so that the caller gets short, typed columns: sums per key
(read_summed), text dates as timestamps, and other text as dictionary columns (pandas categoricals) whose sorted
values keep text order. All go through dictionary encoding: a rollup's keys repeat (ten thousand accounts,
hundreds of days), so each distinct value is handled once and every row costs integer work, here and in the
caller, which maps accounts to positions, filters and groups by integer codes instead of tens of millions of
strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import closing
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_KEY_LIMIT = 2**62  # the product of the keys' distinct counts must fit one int64 key


def export_arrow(
    database: str,
    sql: str,
    parameters: Sequence[Any],
    target: str,
    sum_by: Sequence[str] = (),
    datetimes: Sequence[str] = (),
) -> None:
    """Runs `sql` on the SQLite file `database` and writes the rows to `target` as an Arrow IPC file.

    With `sum_by`, the rows' last column is summed per distinct `sum_by` values, sorted by them. `datetimes`
    columns holding ISO text become timestamps; other text columns become dictionary columns with sorted values.
    """
    with adbc_sqlite.connect(database) as connection, closing(connection.cursor()) as cursor:
        cursor.execute(sql, tuple(parameters))
        table = cursor.fetch_arrow_table()
    if sum_by:
        table = summed(table, list(sum_by))
    for index, name in enumerate(table.column_names):
        column = _timestamps(table[name]) if name in datetimes else _categorical(table[name])
        table = table.set_column(index, name, column)
    with pa.OSFile(target, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def summed(table: pa.Table, keys: list[str]) -> pa.Table:
    """The last column summed per distinct `keys`, sorted by them: each key column becomes the rank of its value
    among its sorted distinct values, the ranks one int64, and the grouping a sort of those integers (Arrow's own
    group-by hashes the text of every row, several times the work)."""
    value = table.column_names[-1]
    columns = [_ranked(table[name]) for name in keys]
    if not len(table) or any(column is None for column in columns):
        return _grouped_by_arrow(table, keys, value)
    ranks, dictionaries = zip(*columns, strict=True)  # type: ignore[arg-type]
    sizes = [len(dictionary) for dictionary in dictionaries]
    if math.prod(sizes) >= _KEY_LIMIT:
        return _grouped_by_arrow(table, keys, value)
    key = ranks[0]
    for rank, size in zip(ranks[1:], sizes[1:], strict=True):
        key = key * size + rank
    # A stable sort, not a hash: rows arriving in the keys' order (a rollup's primary key) are nearly sorted
    # already, which a merge sort exploits (1 s for 68M rows where hashing them takes 10-20 s).
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    uniques = key[starts]
    sums = np.add.reduceat(table[value].to_numpy()[order], starts)
    decoded = []
    for dictionary, size in zip(reversed(dictionaries), reversed(sizes), strict=True):
        decoded.append(pa.DictionaryArray.from_arrays(pa.array(uniques % size, pa.int32()), dictionary))
        uniques = uniques // size
    return pa.table([*reversed(decoded), sums], names=[*keys, value])


def _ranked(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array] | None:
    """(each row's rank among the column's sorted distinct values, those values); None when it holds nulls."""
    if column.null_count:
        return None
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[encoded.indices.to_numpy()], encoded.dictionary.take(order)


def _categorical(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """A text column as a dictionary column whose values are sorted (so pandas sorts its categorical as text);
    other columns, and text holding nulls, as they are."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return column
    ranked = _ranked(column)
    if ranked is None:
        return column
    ranks, values = ranked
    return pa.DictionaryArray.from_arrays(pa.array(ranks, pa.int32()), values)


def _grouped_by_arrow(table: pa.Table, keys: list[str], value: str) -> pa.Table:
    sums = table.group_by(keys).aggregate([(value, "sum")])
    sums = sums.select([*keys, f"{value}_sum"]).rename_columns([*keys, value])
    return sums.sort_by([(name, "ascending") for name in keys])


def _timestamps(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """ISO text (plain or dictionary) as timestamp[us], each distinct text parsed once; other columns as they
    are, and text Arrow cannot read as a timestamp as plain text, for the caller to parse."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return column
    column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    try:
        parsed = pc.cast(encoded.dictionary, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return encoded.dictionary.take(encoded.indices)
    return parsed.take(encoded.indices)
