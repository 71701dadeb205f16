"""The reader process's sums per key equal pandas' groupby, whichever way they are computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cs_health.db.arrow_export import _categorical, _timestamps, summed

KEYS = ["account_id", "user_id", "day"]


def rows(seed: int, count: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "account_id": rng.choice(["acc-1", "acc-10", "acc-2", "Ärger 🚀", "b"], count),
            "user_id": rng.choice([f"u-{n}" for n in range(40)], count),
            "day": rng.choice(["2026-01-31", "2026-02-01", "2025-12-30"], count),
            "events": rng.integers(1, 9, count),
        }
    )


def expected(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(KEYS, sort=True)["events"].sum().reset_index()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sums_per_key_equal_a_sorted_groupby(seed: int):
    frame = rows(seed, 5_000)
    result = summed(pa.Table.from_pandas(frame, preserve_index=False), KEYS).to_pandas()
    pd.testing.assert_frame_equal(result.astype({key: "str" for key in KEYS}), expected(frame), check_dtype=False)
    assert result["events"].dtype == np.int64
    for key in KEYS:  # keys arrive as categoricals in text order, so sorting by them sorts as text
        assert list(result[key].cat.categories) == sorted(frame[key].unique())


def test_keys_holding_nulls_are_summed_by_arrow_instead():
    frame = rows(4, 500)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with_null = table.set_column(1, "user_id", pa.array([None, *frame["user_id"][1:]]))
    result = summed(with_null, KEYS).to_pandas()
    assert result["events"].sum() == frame["events"].sum()
    assert result["user_id"].isna().sum() == 1


def test_an_empty_read_sums_to_an_empty_table_with_the_columns():
    table = pa.Table.from_pandas(rows(5, 10).iloc[:0], preserve_index=False)
    assert summed(table, KEYS).column_names == [*KEYS, "events"]


def test_iso_text_becomes_timestamps_and_other_text_stays():
    days = pa.chunked_array([["2026-03-02", "2026-03-02 10:15:00.250000", None]])
    assert _timestamps(days).to_pylist() == [
        pd.Timestamp("2026-03-02").to_pydatetime(),
        pd.Timestamp("2026-03-02 10:15:00.25").to_pydatetime(),
        None,
    ]
    words = pa.chunked_array([["soon", "later"]])
    assert _timestamps(words).to_pylist() == ["soon", "later"]
    summed_days = pa.chunked_array([pa.array(["2026-03-02", "2026-03-01", "2026-03-02"]).dictionary_encode()])
    assert _timestamps(summed_days).to_pylist() == [pd.Timestamp(f"2026-03-0{d}").to_pydatetime() for d in (2, 1, 2)]


def test_text_becomes_a_categorical_in_text_order_and_other_columns_stay():
    text = pa.chunked_array([["b", "Ärger", "a", "b"], ["a"]])
    frame = pa.table({"name": _categorical(text)}).to_pandas()
    assert frame["name"].tolist() == ["b", "Ärger", "a", "b", "a"]
    assert list(frame["name"].cat.categories) == ["a", "b", "Ärger"]
    assert frame.sort_values("name")["name"].tolist() == ["a", "a", "b", "b", "Ärger"]
    numbers, with_null = pa.chunked_array([[1, 2]]), pa.chunked_array([["a", None]])
    assert _categorical(numbers) is numbers
    assert _categorical(with_null) is with_null
