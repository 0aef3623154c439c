"""A page of the provider's CSV export (`GET /v1/exports/transactions`) decoded into columns.

Arrow's CSV reader types every column itself (times, dates, integers, the categories as
dictionaries) without holding the GIL, so it runs outside `engine.CPU_TURN`; only the small
dictionaries are then looked up in the job's vocabularies. The columns are read by name, so the
order of the export's columns and any columns added after them do not matter; `id` is not read.

Times are read as whole seconds, which is how the provider writes them; a page with fractions
is read again at microseconds and floored, as the JSON path does. A page whose rows are fewer
than its `X-Row-Count` was cut short and is refused, so that the engine asks for it again.
Loaded on the first export page only: importing Arrow costs about 0.27 CPU-s and 50 MB.
"""

from __future__ import annotations

import contextlib

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv

from sarportal.stats.columns import (
    Columns,
    ExportPage,
    Int64Array,
    NameCodeArray,
    PageDecodeError,
    PageDecoder,
)

_CATEGORY = pa.dictionary(pa.int32(), pa.string())
_CATEGORIES = (
    "status", "settlement_status", "payment_method", "customer_type", "currency", "country",
    "shop",
)  # fmt: skip
_TIMES = ("created_at", "captured_at", "paid_at")
_AMOUNTS = ("amount", "captured_amount", "refunded_amount", "cancelled_amount")
_NULLABLE = frozenset({"captured_at", "paid_at", "due_date", "settlement_status"})
_PARSE = pa_csv.ParseOptions(newlines_in_values=False)


def _convert(time_unit: str) -> pa_csv.ConvertOptions:
    types = {
        **{name: pa.timestamp(time_unit, tz="UTC") for name in _TIMES},
        "due_date": pa.date32(),
        **{name: pa.int64() for name in (*_AMOUNTS, "dunning_level")},
        **dict.fromkeys(_CATEGORIES, _CATEGORY),
    }
    return pa_csv.ConvertOptions(
        column_types=types,
        include_columns=list(types),
        null_values=[""],  # only an empty field is null: a shop may be called "NULL" or "N/A"
        strings_can_be_null=True,
    )


_SECONDS, _MICROSECONDS = _convert("s"), _convert("us")


def _read(body: bytes, convert: pa_csv.ConvertOptions) -> pa.Table:
    return pa_csv.read_csv(
        pa.py_buffer(body),
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=len(body) + 1),
        parse_options=_PARSE,
        convert_options=convert,
    )


def decode(
    page: ExportPage, decoder: PageDecoder, turn: contextlib.AbstractContextManager[object]
) -> Columns:
    """The columns of `page`, its categories coded by `decoder`'s vocabularies; the work that
    holds the GIL is done inside `turn`."""
    try:
        try:
            table, unit = _read(page.body, _SECONDS), 1
        except pa.ArrowInvalid:  # fractions of seconds (or a broken page: then this fails too)
            table, unit = _read(page.body, _MICROSECONDS), 1_000_000
    except pa.ArrowException as exc:  # malformed, a column missing, a value of another type
        raise PageDecodeError(f"not a valid transaction export page: {exc}") from exc
    if table.num_rows != page.row_count:
        raise PageDecodeError(
            f"the export page was cut short: {table.num_rows} of {page.row_count} rows"
        )
    with turn:
        return _columns(table, page, decoder, unit)


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    if array.null_count and name not in _NULLABLE:
        raise PageDecodeError(f"the export page has an empty {name}")
    return array


def _values(array: pa.Array, dtype: type[np.integer]) -> npt.NDArray[np.integer]:
    """The values buffer of a fixed-width array, and where it is null, as -1; read straight
    from Arrow's memory layout (its `to_numpy` would load pandas, its compute functions their
    registry: each about 0.2 CPU-s on the first call)."""
    validity, data = array.buffers()[:2]
    n, offset = len(array), array.offset
    values = np.frombuffer(data, dtype=dtype, count=n, offset=offset * np.dtype(dtype).itemsize)
    if not array.null_count:
        return values
    bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
    return np.where(bits[offset : offset + n].astype(bool), values, -1)


def _numbers(table: pa.Table, name: str) -> Int64Array:
    """An integer, time (seconds or microseconds) or date (days) column as int64, null -1."""
    array = _column(table, name)
    width = np.int32 if pa.types.is_date(array.type) else np.int64
    numbers: Int64Array = _values(array, width).astype(np.int64, copy=False)
    return numbers


def _codes(table: pa.Table, name: str, decoder: PageDecoder) -> NameCodeArray:
    """A dictionary column as the job's codes: each distinct name looked up once."""
    array = _column(table, name)
    code = decoder.category_code(name)
    names = array.dictionary.to_pylist()
    lookup = np.array([code(v) for v in names] + [0], np.int32)  # -1 (null, no settlement): 0
    codes: NameCodeArray = lookup[_values(array.indices, np.int32)]
    return codes


def _columns(table: pa.Table, page: ExportPage, decoder: PageDecoder, unit: int) -> Columns:
    n = table.num_rows
    times = {name: _numbers(table, name) for name in _TIMES}
    if unit != 1:
        times = {name: np.where(t >= 0, t // unit, -1) for name, t in times.items()}
    due = _numbers(table, "due_date")
    amounts = {name: _numbers(table, name) for name in _AMOUNTS}
    for name, values in amounts.items():
        if n and int(values.min()) < 0:
            raise PageDecodeError(f"the export page has a negative {name}")
    levels = _numbers(table, "dunning_level")
    if n and not (int(levels.min()) >= 0 and int(levels.max()) <= 4):
        raise PageDecodeError("the export page has a dunning_level outside 0–4")
    codes = {name: _codes(table, name, decoder) for name in _CATEGORIES}
    return Columns(
        created_at=times["created_at"],
        captured_at=times["captured_at"],
        due_date=np.where(due >= 0, due * 86_400, -1),
        paid_at=times["paid_at"],
        amount=amounts["amount"],
        captured_amount=amounts["captured_amount"],
        refunded_amount=amounts["refunded_amount"],
        cancelled_amount=amounts["cancelled_amount"],
        status=codes["status"].astype(np.int8),
        settlement_status=codes["settlement_status"].astype(np.int8),
        payment_method=codes["payment_method"].astype(np.int8),
        customer_type=codes["customer_type"].astype(np.int8),
        dunning_level=levels.astype(np.int8),
        currency=codes["currency"],
        country=codes["country"],
        shop=codes["shop"],
        vocabularies=decoder.vocabularies,
        has_more=page.has_more,
        next_cursor=page.next_cursor,
        total_count=page.total_count,
    )
