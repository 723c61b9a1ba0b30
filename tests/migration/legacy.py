"""Generated legacy exports with the mess real ones have: duplicate rows, impossible dates, missing
fields, mixed scripts, ML-TT (ASCII-font) Malayalam, stray whitespace, BOMs, Windows line endings,
UTF-16. Each generator returns the rows it wrote and what each row should become, so a test can
check every row's fate, not only the totals."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

BIRTH_COLUMNS = [
    "LB_CODE", "REGN_NO", "REGN_DATE", "DOB", "SEX", "CHILD_NAME", "CHILD_NAME_ML",
    "MOTHER_NAME", "FATHER_NAME", "PLACE_TYPE", "HOSPITAL", "INFORMANT",
]  # fmt: skip
MLTT_NAMES = [("A\\p", "അനു"), ("kqcy³", "സൂര്യൻ"), ("tPmk^v", "ജോസഫ്"), ("{]Imiv", "പ്രകാശ്")]


@dataclass
class Expected:
    imported: int = 0
    rejected: dict[int, str] = field(default_factory=dict)  # row -> column refused
    duplicates: dict[int, int] = field(default_factory=dict)  # row -> the row it repeats
    money: dict[str, int] = field(default_factory=dict)


def birth_row(i: int, rng: random.Random) -> dict[str, str]:
    year = 1990 + i % 30
    ml = MLTT_NAMES[i % len(MLTT_NAMES)][0]
    return {
        "LB_CODE": ["252260", "252255"][i % 2],
        "REGN_NO": f"B-{year}-{i:07d}",
        "REGN_DATE": f"{1 + i % 28:02d}/{1 + i % 12:02d}/{year}",
        "DOB": f"{1 + i % 20:02d}/{1 + i % 12:02d}/{year - 1}",
        "SEX": rng.choice(["M", "F"]),
        "CHILD_NAME": f"Child {i}",
        "CHILD_NAME_ML": ml,
        "MOTHER_NAME": rng.choice(["Mary", "ലക്ഷ്മി", "Fathima"]),
        "FATHER_NAME": "Joseph",
        "PLACE_TYPE": "H",
        "HOSPITAL": "SAT Hospital",
        "INFORMANT": "MOTHER",
    }


def messy_births(n: int, seed: int = 7) -> tuple[list[dict[str, str]], Expected]:
    """``n`` birth rows (row numbers from 2: the header is row 1), with known faults."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    expected = Expected()
    for i in range(n):
        number = i + 2
        row = birth_row(i, rng)
        fault = i % 10
        if fault == 1 and i > 10:  # an exact repeat of an earlier row
            row = dict(rows[i - 4])  # row i - 4 is an Excel-date row, imported
            expected.duplicates[number] = number - 4
        elif fault == 2:
            row["DOB"] = "31/02/2001"
            expected.rejected[number] = "DOB"
        elif fault == 3:
            row["MOTHER_NAME"] = ""
            expected.rejected[number] = "MOTHER_NAME"
        elif fault == 4:
            row["MOTHER_NAME"] = "ಲಕ್ಷ್ಮಿ"  # Kannada in a column of Malayalam or English names
            expected.rejected[number] = "MOTHER_NAME"
        elif fault == 5:
            row["CHILD_NAME"] = f"  Child\u00a0 {i} \t"  # stray whitespace, imported tidied
            expected.imported += 1
        elif fault == 6:
            row["LB_CODE"] = "999999"
            expected.rejected[number] = "LB_CODE"
        elif fault == 7:
            row["REGN_DATE"] = str(30000 + i % 5000)  # an Excel serial date (1982 to 1995)
            row["DOB"] = "1980-01-01"
            expected.imported += 1
        else:
            expected.imported += 1
        rows.append(row)
    return rows, expected


def write_csv(
    path: Path, columns: list[str], rows: list[dict[str, str]], *, encoding: str = "utf-8-sig", newline: str = "\r\n"
) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_json(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps({"rows": rows}, ensure_ascii=False), encoding="utf-8")
    return path


def write_xlsx(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    """A minimal XLSX (inline strings), as an office suite writes one, without a spreadsheet library."""

    def cell(ref: str, value: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'

    def col(i: int) -> str:
        name = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            name = chr(65 + r) + name
        return name

    lines = [[*columns]] + [[row.get(c, "") for c in columns] for row in rows]
    sheet_rows = "".join(
        f'<row r="{r + 1}">' + "".join(cell(f"{col(c)}{r + 1}", v) for c, v in enumerate(values)) + "</row>"
        for r, values in enumerate(lines)
    )
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Register" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}"><sheetData>{sheet_rows}</sheetData></worksheet>',
        )
    return path
