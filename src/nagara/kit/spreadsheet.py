"""CSV for spreadsheets: UTF-8 with a byte-order mark, formulas neutralised, streamed.

Excel reads a CSV file without a BOM in the machine's legacy code page, which turns
Malayalam, Kannada and Hindi into mojibake; with ``EF BB BF`` first it reads UTF-8.
A cell that begins with ``= + - @``, a tab or a carriage return is read as a formula
(CSV injection: ``=HYPERLINK(...)`` in a name would run when the officer opens the file),
so such cells get a leading apostrophe, which the spreadsheet shows as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import quote

from fastapi.responses import StreamingResponse

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"
ROWS_PER_CHUNK = 200


def cell(value: object) -> str:
    """One cell's text: None is empty, booleans are yes/no, a would-be formula starts with an apostrophe."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    """The file in chunks of UTF-8: the BOM and the header first, then ``ROWS_PER_CHUNK`` rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([cell(h) for h in header])
    for n, row in enumerate(rows, 1):
        writer.writerow([cell(v) for v in row])
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> StreamingResponse:
    """A streamed download named ``filename`` (ASCII, and RFC 6266's UTF-8 form too)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(
        lines(header, rows),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )
