"""A mapping: how one legacy source's columns become a register's records. Mappings are pack data
(``packs/<state>/migrations/<code>.yaml``), one per legacy source, read by ``nagara migrate``.

A mapping names the register it fills, the column that says the local body (with the legacy
codes of the bodies), the fields (column, type, what is required) and the fields that together
identify a record within its body (the natural key: a row imported twice is one record).
:meth:`Mapping.convert` turns one source row into a record or into the reasons it is refused,
each naming the column. It is pure and runs per row, so it does no lookups: every table it
needs is in the mapping or was read once before the run.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from nagara.migration import mltt
from nagara.migration.sources import EXTRA, INVALID

REGISTERS = ("births", "deaths", "marriages", "property", "trade-licences", "receipts")
TYPES = ("text", "name", "date", "money", "code", "integer")
DATE_FORMATS = ("dd/mm/yyyy", "dd-mm-yyyy", "dd.mm.yyyy", "yyyy-mm-dd", "mm/dd/yyyy", "excel")
# The scripts a name column may allow, by Unicode block (Latin: ASCII letters and Latin-1/Extended-A/B).
SCRIPTS = {
    "malayalam": "\u0d00-\u0d7f",
    "kannada": "\u0c80-\u0cff",
    "devanagari": "\u0900-\u097f",
    "tamil": "\u0b80-\u0bff",
    "telugu": "\u0c00-\u0c7f",
    "arabic": "\u0600-\u06ff",
    "latin": "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f",
}
_BROKEN = re.compile("[\x00\ud800-\udfff]")  # a NUL, or half of a surrogate pair: text damaged on the way
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ue000-\uf8ff]")  # control and private-use characters
_SCRIPT_PATTERNS = {name: re.compile(f"[{block}]") for name, block in SCRIPTS.items()}
MAX_PAISE = 10**15  # ten thousand crore rupees: more is a typing error, not a tax
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 with Excel's false 29 Feb 1900 counted
_DATE_PARTS = {
    "dd/mm/yyyy": (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), (3, 2, 1)),
    "dd-mm-yyyy": (re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})"), (3, 2, 1)),
    "dd.mm.yyyy": (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})"), (3, 2, 1)),
    "yyyy-mm-dd": (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), (1, 2, 3)),
    "mm/dd/yyyy": (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), (3, 1, 2)),
}
_MONEY = re.compile(r"(?:rs\.?|inr|₹)?\s*(-?[\d,]*\.?\d*)\s*(?:/-)?", re.IGNORECASE)


class MappingError(ValueError):
    """The mapping file itself is wrong; the message names the file and the path inside it."""


@dataclass(frozen=True)
class Field:
    name: str
    column: str | None
    type: str
    required: bool = False
    max_length: int = 200
    formats: tuple[str, ...] = ("dd/mm/yyyy", "yyyy-mm-dd", "excel")
    unit: str = "rupees"  # money: rupees | paise
    codes: dict[str, str] = field(default_factory=dict)
    script: str = "unicode"  # name/text: unicode | ml-tt (ASCII-font Malayalam converted)
    scripts: tuple[str, ...] = ()  # name/text: the only scripts its letters may be in
    minimum: int | None = None
    maximum: int | None = None
    not_after: str | None = None  # date: another date field this one may not be after
    future: bool = False  # date: may be after today (a licence's validity); others may not
    const: Any = None
    pattern: re.Pattern[str] | None = None  # text: the whole value must match
    pattern_text: str = ""


@dataclass
class Converted:
    record: dict[str, Any] | None
    body: str | None
    key: str | None
    year: int | None
    problems: list[tuple[str, str]]  # (column, reason)


@dataclass(frozen=True)
class Mapping:
    code: str
    register: str
    state: str
    title: str
    path: Path
    body_column: str | None
    body_codes: dict[str, str]
    body_fixed: str | None
    key: tuple[str, ...]
    year_field: str
    fields: tuple[Field, ...]
    service: str | None  # the pack service whose records these are (births: birth-registration)
    digest: str

    @property
    def money_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.type == "money"]

    def convert(self, row: dict[str, str], *, today: date, memo: Memo | None = None) -> Converted:
        """One row as a record, or the reasons (column, words) it is refused.

        ``memo`` (one per run: per ``today``) remembers what each field's raw text became, so a
        value met again (a body code, a date, a sex, a hospital) is not parsed again; the result
        is the same with or without it.
        """
        problems: list[tuple[str, str]] = []
        if INVALID in row:
            return Converted(None, None, None, None, [("", f"the row is a {row[INVALID]}, not an object")])
        if EXTRA in row:
            problems.append(("", f"the row has {row[EXTRA]} more cell(s) than the header names columns"))
        body = self.body_fixed
        if self.body_column is not None:
            raw = _clean(row.get(self.body_column, ""))
            body = self.body_codes.get(raw)
            if not raw:
                problems.append((self.body_column, "the local body is missing"))
            elif body is None:
                problems.append((self.body_column, f"{raw!r} is not a local body code this mapping knows"))
        record: dict[str, Any] = {}
        caches = memo.caches if memo is not None else None
        if memo is not None:
            memo.rows += 1
        for index, f in enumerate(self.fields):
            raw = row.get(f.column, "") if f.column else ""
            cache = caches[index] if caches is not None else None
            found = cache.get(raw) if cache is not None else None
            if found is None:
                found = memo.miss(index, raw, today) if memo is not None else _attempt(self, f, raw, today)
            value, error = found
            if error is not None:
                problems.append((f.column or f.name, error))
                continue
            if value is None:
                if f.required:
                    problems.append((f.column or f.name, "is required and empty"))
                continue
            record[f.name] = value
        for f in self.fields:
            if f.not_after and f.name in record and f.not_after in record and record[f.name] > record[f.not_after]:
                problems.append((f.column or f.name, f"{record[f.name]} is after {f.not_after} {record[f.not_after]}"))
        if problems:
            return Converted(None, body, None, None, problems)
        key = "|".join(str(record.get(k, "")) for k in self.key)
        year = int(str(record[self.year_field])[:4]) if self.year_field in record else None
        return Converted(record, body, key, year, [])

    def value_of(self, f: Field, raw: str, today: date) -> Any:
        if f.const is not None:
            return f.const
        broken = _BROKEN.search(raw)
        if broken:
            raise ValueError(
                "contains a NUL character" if broken.group() == "\x00" else "contains an unpaired surrogate (broken encoding)"
            )
        text = _clean(raw)
        if not text:
            return None
        if f.type in ("text", "name"):
            if f.script == "ml-tt":
                text = mltt.to_unicode(text)
            if not unicodedata.is_normalized("NFC", text):
                text = unicodedata.normalize("NFC", text)
            if _CONTROL.search(text):
                raise ValueError("contains control characters")
            if len(text) > f.max_length:
                raise ValueError(f"is {len(text)} characters long; at most {f.max_length} are allowed")
            if f.scripts:
                _check_scripts(text, f.scripts)
            if f.pattern is not None and not f.pattern.fullmatch(text):
                raise ValueError(f"{text!r} is not written as {f.pattern_text}")
            return text
        if f.type == "code":
            if text in f.codes:
                return f.codes[text]
            folded = text.casefold()
            for legacy, code in f.codes.items():
                if legacy.casefold() == folded:
                    return code
            raise ValueError(f"{text!r} is not one of {', '.join(sorted(f.codes))}")
        if f.type == "integer":
            if not re.fullmatch(r"-?\d{1,18}", text):
                raise ValueError(f"{text!r} is not a whole number")
            number = int(text)
            if f.minimum is not None and number < f.minimum:
                raise ValueError(f"{number} is below the least allowed, {f.minimum}")
            if f.maximum is not None and number > f.maximum:
                raise ValueError(f"{number} is above the most allowed, {f.maximum}")
            return number
        if f.type == "money":
            return _paise(text, f.unit)
        return _date(text, f.formats, date.max if f.future else today).isoformat()


def _attempt(mapping: Mapping, f: Field, raw: str, today: date) -> tuple[Any, str | None]:
    try:
        return mapping.value_of(f, raw, today), None
    except ValueError as exc:
        return None, str(exc)


class Memo:
    """What each field's raw texts became in one run (``today`` fixed): ``(value, refusal)``.

    A field's values are remembered up to ``LIMIT`` distinct texts; a field whose texts barely
    repeat (registration numbers, names) stops being remembered once it has shown so, so the
    memory a run holds stays bounded whatever its length.
    """

    LIMIT = 20_000

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        # Per field, in the mapping's order: its remembered texts, or None once they proved unique.
        self.caches: list[dict[str, tuple[Any, str | None]] | None] = [{} for _ in mapping.fields]
        self.rows = 0  # rows converted with this memo
        self._since = [0] * len(mapping.fields)  # self.rows when each cache was last emptied

    def miss(self, index: int, raw: str, today: date) -> tuple[Any, str | None]:
        found = _attempt(self.mapping, self.mapping.fields[index], raw, today)
        cache = self.caches[index]
        if cache is None:
            return found
        if len(cache) >= self.LIMIT:
            if self.rows - self._since[index] < 2 * self.LIMIT:  # most texts were new: not worth it
                self.caches[index] = None
                return found
            cache.clear()
            self._since[index] = self.rows
        cache[raw] = found
        return found


def _clean(raw: str) -> str:
    """Stray whitespace gone: ends trimmed, runs (non-breaking spaces, tabs, line breaks) one space;
    a BOM or zero-width no-break space left inside a cell by an earlier export dropped."""
    if "\ufeff" in raw:
        raw = raw.replace("\ufeff", "")
    return " ".join(raw.split())


def _check_scripts(text: str, allowed: tuple[str, ...]) -> None:
    for name, pattern in _SCRIPT_PATTERNS.items():
        if name not in allowed and pattern.search(text):
            raise ValueError(f"has {name.title()} letters; this column allows {' or '.join(allowed)} only")


def _paise(text: str, unit: str) -> int:
    match = _MONEY.fullmatch(text)
    number = match.group(1).replace(",", "") if match else ""
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount of money") from None
    if not amount.is_finite():
        raise ValueError(f"{text!r} is not an amount of money")
    if amount < 0:
        raise ValueError(f"{text} is negative; amounts owed or paid are not")
    paise = amount * 100 if unit == "rupees" else amount
    if paise != paise.to_integral_value():
        raise ValueError(f"{text} has a fraction of a paisa" if unit == "rupees" else f"{text} paise is not whole")
    if paise > MAX_PAISE:
        raise ValueError(f"{text} is beyond any amount a register holds")
    return int(paise)


def _date(text: str, formats: tuple[str, ...], today: date) -> date:
    for fmt in formats:
        if fmt == "excel":
            if re.fullmatch(r"\d{1,6}(\.0+)?", text):
                serial = int(float(text))
                if serial < 1:
                    raise ValueError(f"{text} is not an Excel date serial")
                day = EXCEL_EPOCH + timedelta(days=serial)
                if serial < 61:  # Excel counts a 29 February 1900 that never was
                    day += timedelta(days=1)
                return _plausible(day, text, today)
            continue
        pattern, (y, m, d) = _DATE_PARTS[fmt]
        match = pattern.fullmatch(text)
        if match:
            parts = match.groups()
            try:
                day = date(int(parts[y - 1]), int(parts[m - 1]), int(parts[d - 1]))
            except ValueError as exc:
                raise ValueError(f"{text} is not a real date ({exc})") from None
            return _plausible(day, text, today)
    raise ValueError(f"{text!r} is not a date in any of the forms {', '.join(formats)}")


def _plausible(day: date, text: str, today: date) -> date:
    if day.year < 1850:
        raise ValueError(f"{text} is before 1850; no register here is that old")
    if day > today:
        raise ValueError(f"{text} is in the future")
    return day


def record_json(record: dict[str, Any]) -> str:
    """The record's canonical text: what its checksum is taken of, and what is sealed."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def record_sha256(record: dict[str, Any]) -> str:
    return hashlib.sha256(record_json(record).encode()).hexdigest()


def _need(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise MappingError(f"{where}: {key!r} is required")
    value = data[key]
    if not isinstance(value, kind):
        raise MappingError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _field(name: str, spec: Any, where: str) -> Field:
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: expected a mapping with column and type")
    known = {"column", "type", "required", "max_length", "formats", "unit", "codes", "script", "scripts"}
    known |= {"minimum", "maximum", "not_after", "future", "const", "pattern", "example"}
    for key in spec:
        if key not in known:
            raise MappingError(f"{where}.{key}: unknown setting; allowed: {', '.join(sorted(known))}")
    kind = _need(spec, "type", str, where)
    if kind not in TYPES:
        raise MappingError(f"{where}.type: {kind!r} is not one of {', '.join(TYPES)}")
    if "column" not in spec and "const" not in spec:
        raise MappingError(f"{where}: give the source column (or a const value)")
    formats = tuple(spec.get("formats", Field.formats))
    for fmt in formats:
        if fmt not in DATE_FORMATS:
            raise MappingError(f"{where}.formats: {fmt!r} is not one of {', '.join(DATE_FORMATS)}")
    unit = spec.get("unit", "rupees")
    if unit not in ("rupees", "paise"):
        raise MappingError(f"{where}.unit: {unit!r}; allowed: rupees, paise")
    script = spec.get("script", "unicode")
    if script not in ("unicode", "ml-tt"):
        raise MappingError(f"{where}.script: {script!r}; allowed: unicode, ml-tt")
    scripts = tuple(spec.get("scripts", ()))
    for s in scripts:
        if s not in SCRIPTS:
            raise MappingError(f"{where}.scripts: {s!r} is not one of {', '.join(SCRIPTS)}")
    if kind == "code" and not isinstance(spec.get("codes"), dict):
        raise MappingError(f"{where}.codes: a code field needs its table (legacy code: pack code)")
    return Field(
        name=name,
        column=spec.get("column"),
        type=kind,
        required=bool(spec.get("required", False)),
        max_length=int(spec.get("max_length", 200)),
        formats=formats,
        unit=unit,
        codes={str(k): str(v) for k, v in (spec.get("codes") or {}).items()},
        script=script,
        scripts=scripts,
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        not_after=spec.get("not_after"),
        future=bool(spec.get("future", False)),
        const=spec.get("const"),
        pattern=re.compile(str(spec["pattern"])) if "pattern" in spec else None,
        pattern_text=str(spec.get("example") or spec.get("pattern") or ""),
    )


def load_mapping(path: Path) -> Mapping:
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not YAML: {exc}") from None
    where = path.name
    if not isinstance(data, dict):
        raise MappingError(f"{where}: expected a mapping at the top")
    register = _need(data, "register", str, where)
    if register not in REGISTERS:
        raise MappingError(f"{where}.register: {register!r} is not one of {', '.join(REGISTERS)}")
    fields_spec = _need(data, "fields", dict, where)
    fields = tuple(_field(str(name), spec, f"{where}.fields.{name}") for name, spec in fields_spec.items())
    names = {f.name for f in fields}
    key = tuple(_need(data, "key", list, where))
    for k in key:
        if k not in names:
            raise MappingError(f"{where}.key: {k!r} is not one of the fields")
    for f in fields:
        if f.not_after and f.not_after not in names:
            raise MappingError(f"{where}.fields.{f.name}.not_after: {f.not_after!r} is not one of the fields")
    year_field = _need(data, "year", str, where)
    if year_field not in names or next(f for f in fields if f.name == year_field).type != "date":
        raise MappingError(f"{where}.year: {year_field!r} must be one of the date fields")
    body = _need(data, "body", dict, where)
    if "column" in body:
        body_codes = {str(k): str(v) for k, v in _need(body, "codes", dict, f"{where}.body").items()}
        body_column, body_fixed = str(body["column"]), None
    else:
        body_column, body_codes, body_fixed = None, {}, str(_need(body, "code", str, f"{where}.body"))
    return Mapping(
        code=_need(data, "code", str, where),
        register=register,
        state=_need(data, "state", str, where),
        title=_need(data, "title", str, where),
        path=path,
        body_column=body_column,
        body_codes=body_codes,
        body_fixed=body_fixed,
        key=key,
        year_field=year_field,
        fields=fields,
        service=data.get("service"),
        digest=hashlib.sha256(raw).hexdigest(),
    )
