"""Reading a legacy export: CSV (UTF-8 with or without a BOM, UTF-16 with its BOM, Windows line
endings), JSON (a list of objects, or an object whose ``rows`` is one) and spreadsheets (XLSX,
XLS, ODS through python-calamine). Each yields ``(row_number, {column: text})`` with the row
number a person finds in the file (the header is row 1 of a CSV or sheet; JSON counts from 1).

Nothing here decides what a value means; it only gets the text out faithfully, and refuses a
file it cannot read with a message saying what it expected.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

FORMATS = ("csv", "json", "xlsx")
# Keys a row carries beside its columns when it is not what the header promised (no column has a NUL).
EXTRA = "\x00extra"
INVALID = "\x00invalid"
_SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}


class SourceError(ValueError):
    """The file cannot be read as the format it claims to be."""


@dataclass(frozen=True)
class Source:
    path: Path
    format: str  # csv | json | xlsx
    encoding: str  # what a CSV or JSON was decoded as; "binary" for spreadsheets
    sha256: str
    size: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _format_of(path: Path, declared: str | None) -> str:
    if declared:
        if declared not in FORMATS:
            raise SourceError(f"unknown format {declared!r}; allowed: {', '.join(FORMATS)}")
        return declared
    suffix = path.suffix.lower()
    if suffix in _SPREADSHEET_SUFFIXES:
        return "xlsx"
    if suffix == ".json":
        return "json"
    if suffix in {".csv", ".txt", ".tsv"}:
        return "csv"
    raise SourceError(f"{path.name}: cannot tell the format from {suffix!r}; name it (csv, json or xlsx)")


def _encoding_of(head: bytes, declared: str | None) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError:
            raise SourceError(f"unknown encoding {declared!r}") from None
        return declared
    return "utf-8"


def open_source(path: Path, *, format: str | None = None, encoding: str | None = None) -> Source:  # noqa: A002
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    fmt = _format_of(path, format)
    with path.open("rb") as f:
        head = f.read(4)
    enc = "binary" if fmt == "xlsx" else _encoding_of(head, encoding)
    return Source(path, fmt, enc, sha256_of(path), path.stat().st_size)


def _text(value: Any) -> str:
    """A cell as text. Spreadsheet dates become ISO dates; whole numbers lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _header(cells: list[Any], where: str) -> list[str]:
    names = [_text(c).strip().lstrip("\ufeff") for c in cells]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise SourceError(f"{where}: the header names column {name!r} twice")
        seen.add(name)
    if not any(names):
        raise SourceError(f"{where}: the first row must name the columns; it is empty")
    return names


def _csv_rows(source: Source) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with source.path.open("r", encoding=source.encoding, newline="") as f:
            sample = f.read(8192)
            f.seek(0)
            delimiter = "\t" if source.path.suffix.lower() == ".tsv" or sample.count("\t") > sample.count(",") else ","
            reader = csv.reader(f, delimiter=delimiter)
            try:
                header = _header(next(reader), source.path.name)
            except StopIteration:
                return
            width, named = len(header), all(header)
            for cells in reader:
                number = reader.line_num
                if len(cells) == width and named:  # the usual row: every column named and present
                    if any(c and not c.isspace() for c in cells):
                        yield number, dict(zip(header, cells, strict=True))
                    continue
                if not any(c.strip() for c in cells):
                    continue  # blank lines are not rows
                row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
                if len(cells) > width:
                    row[EXTRA] = str(len(cells) - width)
                yield number, row
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{source.path.name}: not {source.encoding} at byte {exc.start}; give the file's encoding (--encoding)"
        ) from None


def _json_rows(source: Source) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        data = json.loads(source.path.read_bytes().decode(source.encoding))
    except UnicodeDecodeError as exc:
        raise SourceError(f"{source.path.name}: not {source.encoding} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{source.path.name}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise SourceError(f"{source.path.name}: expected a list of objects, or an object with a list 'rows'")
    for number, item in enumerate(rows, start=1):
        if not isinstance(item, dict):
            yield number, {INVALID: type(item).__name__}
            continue
        yield number, {str(k): _text(v) for k, v in item.items()}


def _sheet_rows(source: Source, sheet: str | None) -> Iterator[tuple[int, dict[str, str]]]:
    from python_calamine import CalamineWorkbook  # noqa: PLC0415 - only a spreadsheet's run loads the reader

    try:
        book = CalamineWorkbook.from_path(str(source.path))
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error kinds for every damage
        raise SourceError(f"{source.path.name}: not a readable spreadsheet: {exc}") from None
    names = book.sheet_names
    if sheet is not None and sheet not in names:
        raise SourceError(f"{source.path.name}: no sheet {sheet!r}; it has {', '.join(names)}")
    rows = book.get_sheet_by_name(sheet or names[0]).iter_rows()
    try:
        header = _header(list(next(rows)), source.path.name)
    except StopIteration:
        return
    for number, cells in enumerate(rows, start=2):
        if not any(_text(c).strip() for c in cells):
            continue
        yield number, {name: _text(cells[i]) if i < len(cells) else "" for i, name in enumerate(header) if name}


def rows(source: Source, *, sheet: str | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    if source.format == "csv":
        return _csv_rows(source)
    if source.format == "json":
        return _json_rows(source)
    return _sheet_rows(source, sheet)


def estimate_rows(source: Source) -> int | None:
    """About how many rows a CSV has (its line breaks), for the progress bar's time left; None for
    other formats, read once only."""
    if source.format != "csv":
        return None
    newline = b"\n\x00" if source.encoding == "utf-16" else b"\n"
    count = 0
    with source.path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            count += chunk.count(newline)
    return max(count, 1)
