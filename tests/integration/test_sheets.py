"""Spreadsheets (XLSX, ODS) as tables, through the real server, on real third-party files:
  - xlsx2csv's test workbooks (Debian's xlsx2csv) and the xlsx samples of
    golang-github-gabriel-vasile-mimetype-dev: every cell of every sheet that carboy
    converts to CSV is compared with the xlsx2csv command line's reading of the same sheet,
    and the sheets' order with xl/workbook.xml and its relationships read here (zipfile +
    ElementTree);
  - the mimetype package's ODS, and ODS workbooks made here from ggobi's R data sets (tips,
    sleep) with the cell forms LibreOffice writes (typed values beside display text,
    repeated cells and rows, the empty rows and columns padding a sheet to the end of the
    grid): compared with content.xml read here on its own, and with the CSV files they were
    made from;
  - statistics per sheet checked against the csv module's reading of xlsx2csv's output;
  - broken and hostile workbooks (a sparse sheet spanning the whole grid, repeated rows
    that would make a billion cells, an encrypted workbook, a dangling shared string),
    each failing with its reason while the server keeps serving."""
import csv
import datetime
import io
import json
import os
import posixpath
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from xml.sax.saxutils import escape, quoteattr

import pytest
from conftest import all_records, ingest, problem, props
from test_table import MISSING, check_against_python, python_table

X2C = "/usr/share/doc/xlsx2csv/examples/test"
MIME = "/usr/share/gocode/src/github.com/gabriel-vasile/mimetype/testdata"
GGOBI = "/usr/share/ggobi/data"
WORKBOOKS = sorted(os.path.join(X2C, f) for f in os.listdir(X2C) if f.endswith((".xlsx", ".xlsm"))) + \
    [os.path.join(MIME, f) for f in ("xlsx.xlsx", "xlsx.1.xlsx", "xlsx.2.xlsx")]
ORDER = os.path.join(X2C, "sheets_order.xlsx")

S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PR = "{http://schemas.openxmlformats.org/package/2006/relationships}"
NS = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
      "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
      "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0"}
O, T, TX = ("{%s}" % NS[k] for k in ("office", "table", "text"))


# ---------------------------------------------------------------- references

def workbook_sheets(path):
    """(name, worksheet part) in workbook order: xl/workbook.xml's sheets through
    xl/_rels/workbook.xml.rels, worksheets only."""
    with zipfile.ZipFile(path) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r for r in rels.iter(PR + "Relationship")}
    out = []
    for s in book.iter(S + "sheet"):
        rel = target[s.get(R + "id")]
        if rel.get("Type").endswith("/worksheet"):
            t = rel.get("Target")
            out.append((s.get("name"), t[1:] if t.startswith("/") else posixpath.normpath("xl/" + t)))
    return out


def xlsx2csv(path, sheet):
    """xlsx2csv's reading of one sheet. Its documented options make it print what the file
    stores rather than what the cell's display format shows: --ignore-formats float (numbers
    as stored: float.xlsx's 0.103 rather than its 0.00000-format 0.10300), and dates and
    times in ISO 8601 (-f, -t), as carboy writes them."""
    out = subprocess.run(["xlsx2csv", "--ignore-formats", "float", "-f", "%Y-%m-%dT%H:%M:%S", "-t", "%H:%M:%S",
                          "-n", sheet, path], capture_output=True, text=True, timeout=60, check=True).stdout
    return list(csv.reader(io.StringIO(out)))


def grid(rows):
    """The table a sheet's rows make: from the first row holding a value to the last, as
    wide as the last column holding one, short rows padded. carboy's table is that; xlsx2csv
    writes every row element (blank lines for gaps) padded to the sheet's declared
    dimension, so both sides go through this before the comparison."""
    rows = [list(r) for r in rows]
    while rows and not any(rows[0]):
        rows.pop(0)
    while rows and not any(rows[-1]):
        rows.pop()
    width = max([max([i + 1 for i, c in enumerate(r) if c] or [0]) for r in rows] or [0])
    return [(r + [""] * width)[:width] for r in rows]


def same_value(ours, theirs):
    """Equal as text, or as numbers (carboy writes the shortest text of the stored double),
    or as date-times (xlsx2csv's -f gives every date a time of day; carboy writes a date
    format's date alone)."""
    if ours == theirs:
        return True
    try:
        return float(ours) == float(theirs)
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(ours) == datetime.datetime.fromisoformat(theirs)
    except ValueError:
        return False


def assert_same_grid(ours, theirs, where):
    assert len(ours) == len(theirs), (where, len(ours), len(theirs))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a) == len(b), (where, i, a, b)
        for j, (x, y) in enumerate(zip(a, b)):
            assert same_value(x, y), (where, i, j, x, y)


def ods_tables(data):
    """content.xml read here: {sheet name: rows of cell text}, in document order. A cell is
    its typed value (office:value for numbers, date-value, time-value as HH:MM:SS,
    boolean-value as TRUE/FALSE), else its paragraphs joined by line breaks (annotations
    left out); repeated cells and rows expanded, the empty ones only as far as a value
    follows them."""
    root = ET.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("content.xml"))
    out = {}
    for table in root.iter(T + "table"):
        rows, empty_rows = [], 0
        for row in table.iter(T + "table-row"):
            cells, col = {}, 0
            for cell in row:
                if cell.tag not in (T + "table-cell", T + "covered-table-cell"):
                    continue
                rep = int(cell.get(T + "number-columns-repeated", "1"))
                value = ods_value(cell)
                if value:
                    for k in range(rep):
                        cells[col + k] = value
                col += rep
            rrep = int(row.get(T + "number-rows-repeated", "1"))
            if not cells:
                empty_rows += rrep
                continue
            if rows:
                rows += [[]] * empty_rows
            empty_rows = 0
            line = [cells.get(i, "") for i in range(max(cells) + 1)]
            rows += [line] * rrep
        out[table.get(T + "name")] = grid(rows)
    return out


def ods_value(cell):
    vt = cell.get(O + "value-type")
    if vt in ("float", "percentage", "currency"):
        return repr(float(cell.get(O + "value")))
    if vt == "date":
        return cell.get(O + "date-value")
    if vt == "time":
        m = re.fullmatch(r"PT(\d+)H(\d+)M(\d+)S", cell.get(O + "time-value"))
        return "%02d:%02d:%02d" % tuple(int(x) for x in m.groups())
    if vt == "boolean":
        return "TRUE" if cell.get(O + "boolean-value") == "true" else "FALSE"
    paras = []
    for p in cell.findall(TX + "p"):  # the cell's own paragraphs: an annotation's are inside it
        text = p.text or ""
        for child in p:
            if child.tag == TX + "s":
                text += " " * int(child.get(TX + "c", "1"))
            text += child.tail or ""
        paras.append(text)
    return "\n".join(paras)


# ---------------------------------------------------------------- helpers

def convert(srv, file_id, to="csv", sheet=None):
    params = {"to": to}
    if sheet is not None:
        params["sheet"] = sheet
    return srv.api("GET", f"/files/{file_id}/convert", params=params)


def csv_rows(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.content.decode("utf-8"), newline="")))


def text_of(srv, meta):
    return srv.api("GET", f"/files/{meta['id']}/text").content.decode("utf-8")


@pytest.fixture(scope="module")
def order_book(srv):
    f = srv.folder("sheets-order")
    return ingest(srv, f["id"], ORDER)


# ---------------------------------------------------------------- XLSX

def test_sheets_are_tables_in_workbook_order(srv, order_book):
    meta = order_book
    assert meta["status"] == "processed" and meta["kind"] == "table", meta
    book = workbook_sheets(ORDER)
    names = [n for n, _ in book]
    # the workbook's order is not the zip's: the test would see zip order
    with zipfile.ZipFile(ORDER) as z:
        in_zip = [n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    assert [p for _, p in book] != in_zip and sorted(p for _, p in book) == sorted(in_zip)
    out = subprocess.run(["xlsx2csv", "-a", ORDER], capture_output=True, text=True, timeout=60).stdout
    assert re.findall(r"^-------- \d+ - (.*)$", out, re.M) == names
    p = props(meta)
    assert p["sheet_count"] == len(names) and p["sheet_names"].split("\n") == names
    assert p["document_type"] == "xlsx" and p["application"] == "LibreOffice"  # docProps/app.xml
    # a record per sheet, in order, with the table's properties
    recs = all_records(srv, meta["id"])
    assert [r["title"] for r in recs] == names and meta["record_count"] == len(names)
    assert [r["index"] for r in recs] == list(range(len(names)))
    # the text lists the sheets under their names, in order
    lines = text_of(srv, meta).split("\n")
    at = [lines.index(n) for n in names]
    assert at == sorted(at) and at[0] == 0
    for (name, _), start, end in zip(book, at, at[1:] + [len(lines)]):
        first = grid(xlsx2csv(ORDER, name))[0]
        assert lines[start + 1].split("\t") == first, name


@pytest.mark.parametrize("path", WORKBOOKS, ids=os.path.basename)
def test_every_cell_matches_xlsx2csv(srv, path):
    f = srv.folder("sheets-cells-" + os.path.basename(path))
    meta = ingest(srv, f["id"], path)
    assert meta["status"] == "processed" and meta["kind"] == "table", meta
    names = [n for n, _ in workbook_sheets(path)]
    assert props(meta).get("sheet_names", "").split("\n") == names if names else props(meta)["sheet_count"] == 0
    for i, name in enumerate(names):
        ours = csv_rows(convert(srv, meta["id"], sheet=name))
        assert len({len(r) for r in ours}) <= 1, (name, "rows of one width")
        assert grid(ours) == ours, (name, "no leading or trailing row or column without a value")
        assert_same_grid(ours, grid(xlsx2csv(path, name)), (path, name))
        if i == 0:  # the first sheet by default
            assert csv_rows(convert(srv, meta["id"])) == ours


def test_dates_and_times_follow_the_cell_format(srv):
    """junk-small.xlsx's dates in four display formats, datetime.xlsx's date-time, and
    timeformat.xlsx's custom date-time and h:mm:ss cells become ISO 8601."""
    f = srv.folder("sheets-dates")
    for name, want in (("junk-small.xlsx", ["1940-03-29", "2008-07-25", "2008-07-25", "2009-04-08", "test", "FALSE"]),
                       ("datetime.xlsx", ["2011-09-15T15:22:00"]),
                       ("timeformat.xlsx", ["2017-08-03T14:35:00", "14:40:30"])):
        meta = ingest(srv, f["id"], os.path.join(X2C, name))
        ours = csv_rows(convert(srv, meta["id"]))
        assert ours[0] == want, (name, ours)
        # the independent reading agrees (as date-times)
        theirs = grid(xlsx2csv(os.path.join(X2C, name), workbook_sheets(os.path.join(X2C, name))[0][0]))
        assert_same_grid(ours, theirs, name)


def test_sheet_statistics_match_python(srv, tmp_path):
    """Each sheet's record holds the columns, types and statistics a CSV file gets: checked
    against the csv module's reading of xlsx2csv's CSV of the same sheet."""
    f = srv.folder("sheets-stats")
    checked = 0
    for name in ("xlsx2csv-test-file.xlsx", "sheets.xlsx", "sheets_order.xlsx", "twolettercolumns.xlsx"):
        path = os.path.join(X2C, name)
        recs = all_records(srv, ingest(srv, f["id"], path)["id"])
        assert [r["title"] for r in recs] == [n for n, _ in workbook_sheets(path)]
        for rec in recs:
            p = props(rec)
            ref_path = tmp_path / "sheet.csv"
            with open(ref_path, "w", newline="", encoding="utf-8") as fh:
                csv.writer(fh, lineterminator="\n").writerows(grid(xlsx2csv(path, rec["title"])))
            if not p["row_count"] and p["has_header"] == "false":
                assert p["column_count"] == 0 and os.path.getsize(ref_path) == 0
                continue
            ref = python_table(str(ref_path), header=p["has_header"] == "true")
            check_against_python(p, ref)
            checked += sum(1 for st in ref["cols"].values() if "mean" in st)
    assert checked >= 5  # numeric columns were compared, not only counts
    # the sheets_order workbook's first sheet: x and y over integers, so a header
    b = props(all_records(srv, ingest(srv, f["id"], ORDER)["id"])[0])
    assert b["has_header"] == "true" and b["columns"] == "x\ty" and b["column.y.type"] == "integer"


def test_json_tsv_and_the_preview_of_a_sheet(srv, order_book):
    meta = order_book
    name = workbook_sheets(ORDER)[0][0]
    ref = grid(xlsx2csv(ORDER, name))
    objs = convert(srv, meta["id"], "json", sheet=name).json()
    assert objs == [{"x": int(x), "y": int(y)} for x, y in ref[1:]]
    r = convert(srv, meta["id"], "tsv", sheet="a")
    assert r.headers["Content-Type"].startswith("text/tab-separated-values")
    assert r.text.rstrip("\n").split("\n") == [row[0] for row in grid(xlsx2csv(ORDER, "a"))]
    # every sheet's preview, the first one's at the top
    art = {a["kind"]: a for a in meta["artifacts"]}["table_preview"]
    pv = srv.api("GET", art["url"][len("/api/v1"):]).json()
    assert pv["sheet"] == name and pv["columns"] == ["x", "y"] and pv["types"] == ["integer", "integer"]
    assert [s["name"] for s in pv["sheets"]] == [n for n, _ in workbook_sheets(ORDER)]
    assert pv["sheets"][0]["rows"] == ref[1:21]


def test_an_unknown_sheet_is_a_problem_naming_the_sheets(srv, order_book):
    body = problem(convert(srv, order_book["id"], sheet="mtcars"), 404)
    assert body.get("field") == "sheet" or "sheet" in body["detail"]
    for name, _ in workbook_sheets(ORDER):
        assert f"'{name}'" in body["detail"]
    # a CSV has no sheets
    f = srv.folder("sheets-none")
    meta = ingest(srv, f["id"], os.path.join(GGOBI, "sleep.csv"))
    problem(convert(srv, meta["id"], sheet="sleep"), 400)
    assert convert(srv, meta["id"]).status_code == 200


# ---------------------------------------------------------------- ODS

def test_ods_sample_matches_content_xml(srv):
    path = os.path.join(MIME, "ods.ods")
    f = srv.folder("sheets-ods")
    meta = ingest(srv, f["id"], path)
    assert meta["status"] == "processed" and meta["kind"] == "table", meta
    data = open(path, "rb").read()
    tables = ods_tables(data)
    p = props(meta)
    assert p["sheet_names"].split("\n") == list(tables) and p["document_type"] == "ods"
    for name, rows in tables.items():
        assert csv_rows(convert(srv, meta["id"], sheet=name)) == rows
    # the thumbnail LibreOffice stored is still the preview
    r = srv.api("GET", f"/files/{meta['id']}/preview")
    assert r.status_code == 200 and r.content == zipfile.ZipFile(path).read("Thumbnails/thumbnail.png")


def ods_cell(v):
    """A cell as LibreOffice writes it: numbers typed, with a display text of their own."""
    try:
        x = float(v)
    except ValueError:
        x = None
    if x is not None and v.strip() not in MISSING:
        return (f'<table:table-cell office:value-type="float" office:value="{v.strip()}">'
                f'<text:p>{x:.2f}</text:p></table:table-cell>')
    if not v:
        return "<table:table-cell/>"
    return f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p></table:table-cell>'


def ods_sheet(name, rows):
    out = [f"<table:table table:name={quoteattr(name)}>"]
    for row in rows:
        cells, i = [], 0
        while i < len(row):  # runs of one value: one cell, repeated
            k = i
            while k + 1 < len(row) and row[k + 1] == row[i]:
                k += 1
            c = ods_cell(row[i])
            cells.append(c if k == i else c.replace("<table:table-cell", f'<table:table-cell '
                                                    f'table:number-columns-repeated="{k - i + 1}"', 1))
            i = k + 1
        # the padding LibreOffice writes to the grid's last column
        out.append("<table:table-row>" + "".join(cells) +
                   '<table:table-cell table:number-columns-repeated="16000"/></table:table-row>')
    out.append('<table:table-row table:number-rows-repeated="1048000">'
               '<table:table-cell table:number-columns-repeated="16384"/></table:table-row></table:table>')
    return "".join(out)


TYPES_SHEET = (
    '<table:table table:name="types"><table:table-row>'
    + "".join(f'<table:table-cell office:value-type="string"><text:p>{h}</text:p></table:table-cell>'
              for h in ("day", "at", "stamp", "ok", "share", "price", "note"))
    + '</table:table-row>'
    '<table:table-row table:number-rows-repeated="2">'
    '<table:table-cell office:value-type="date" office:date-value="2019-05-08"><text:p>05/08/19</text:p>'
    '</table:table-cell>'
    '<table:table-cell office:value-type="time" office:time-value="PT14H40M00S"><text:p>02:40 PM</text:p>'
    '</table:table-cell>'
    '<table:table-cell office:value-type="date" office:date-value="2019-05-08T10:48:00"><text:p>x</text:p>'
    '</table:table-cell>'
    '<table:table-cell office:value-type="boolean" office:boolean-value="true"><text:p>TRUE</text:p>'
    '</table:table-cell>'
    '<table:table-cell office:value-type="percentage" office:value="0.25"><text:p>25%</text:p></table:table-cell>'
    '<table:table-cell office:value-type="currency" office:value="9.99"><text:p>9.99 EUR</text:p></table:table-cell>'
    '<table:table-cell office:value-type="string"><office:annotation><text:p>a comment</text:p></office:annotation>'
    '<text:p>two<text:s text:c="3"/>spaces</text:p><text:p>second line</text:p></table:table-cell>'
    '</table:table-row>'
    '<table:table-row><table:table-cell table:number-columns-repeated="3"/>'
    '<table:table-cell office:value-type="boolean" office:boolean-value="false"><text:p>FALSE</text:p>'
    '</table:table-cell></table:table-row></table:table>')


def make_ods(sheets):
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               + " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
               + ' office:version="1.2"><office:body><office:spreadsheet>' + "".join(sheets)
               + "</office:spreadsheet></office:body></office:document-content>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest xmlns:manifest='
                   '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
    return buf.getvalue()


@pytest.fixture(scope="module")
def r_book(srv):
    """An ODS of ggobi's sleep (NA values) and tips (SEX set to NA in three rows) data
    sets and a sheet of every value type, each sheet padded to the grid's end."""
    sleep = list(csv.reader(open(os.path.join(GGOBI, "sleep.csv"), newline="")))
    tips = list(csv.reader(open(os.path.join(GGOBI, "tips.csv"), newline="")))
    for i in (2, 5, 9):
        tips[i][4] = "NA"
    data = make_ods([ods_sheet("sleep", sleep), ods_sheet("tips", tips), TYPES_SHEET])
    f = srv.folder("sheets-r")
    meta = ingest(srv, f["id"], None, name="r-data.ods", data=data)
    return {"meta": meta, "data": data, "sleep": sleep, "tips": tips}


def test_ods_sheets_match_content_xml_and_their_csv(srv, r_book):
    meta, data = r_book["meta"], r_book["data"]
    assert meta["status"] == "processed" and meta["kind"] == "table", meta
    tables = ods_tables(data)
    assert list(tables) == ["sleep", "tips", "types"]
    assert props(meta)["sheet_names"].split("\n") == list(tables)
    for name, rows in tables.items():
        assert_same_grid(csv_rows(convert(srv, meta["id"], sheet=name)), rows, name)
    # the data sets' own cells come back (numbers as numbers: the display text is not the value)
    for name in ("sleep", "tips"):
        assert_same_grid(csv_rows(convert(srv, meta["id"], sheet=name)), r_book[name], name)
    assert csv_rows(convert(srv, meta["id"], sheet="types"))[1] == [
        "2019-05-08", "14:40:00", "2019-05-08T10:48:00", "TRUE", "0.25", "9.99", "two   spaces\nsecond line"]


def test_ods_sheet_statistics_match_python(srv, r_book, tmp_path):
    recs = all_records(srv, r_book["meta"]["id"])
    assert [r["title"] for r in recs] == ["sleep", "tips", "types"]
    for rec, name in zip(recs, ("sleep", "tips")):
        path = tmp_path / f"{name}.csv"
        with open(path, "w", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(r_book[name])
        p = props(rec)
        assert p["has_header"] == "true"
        check_against_python(p, python_table(str(path)))
    s, t, ty = (props(r) for r in recs)
    assert s["column.NonD.empty"] == 14 and s["column.NonD.type"] == "number"  # NA is missing
    assert t["column.SEX.empty"] == 3 and t["column.SEX.type"] == "text"
    assert ty["column.day.type"] == "date" and ty["column.day.min"] == "2019-05-08"
    assert ty["column.ok.type"] == "boolean" and ty["column.share.mean"] == 0.25
    assert ty["column.day.empty"] == 1 and ty["row_count"] == 3


def test_json_of_a_sheet_keeps_missing_values_null(srv, r_book):
    meta = r_book["meta"]
    objs = convert(srv, meta["id"], "json", sheet="tips").json()
    src = r_book["tips"]
    assert len(objs) == len(src) - 1
    for obj, row in zip(objs, src[1:]):
        assert obj["SEX"] == (None if row[4] == "NA" else row[4])
        assert obj["TOTBILL"] == float(row[2]) and obj["SIZE"] == int(row[8])
    sleep = convert(srv, meta["id"], "json", sheet="sleep").json()
    assert [o["NonD"] for o in sleep] == [None if r[3] == "NA" else float(r[3]) for r in r_book["sleep"][1:]]
    types = convert(srv, meta["id"], "json", sheet="types").json()
    assert types[0]["ok"] is True and types[2]["ok"] is False and types[2]["day"] is None


# ---------------------------------------------------------------- broken and hostile

def make_xlsx(sheet_xml, strings=None, sheet_name=None):
    """A workbook of one sheet, from the parts of xlsx2csv's utf8.xlsx (real styles,
    relationships, content types) with sheet1.xml (and the shared strings) replaced."""
    src = os.path.join(X2C, "utf8.xlsx")
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n in zin.namelist():
            data = zin.read(n)
            if n == "xl/worksheets/sheet1.xml":
                data = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                        '2006/main"><sheetData>' + sheet_xml + "</sheetData></worksheet>").encode()
            elif n == "xl/sharedStrings.xml" and strings is not None:
                data = strings.encode()
            elif n == "xl/workbook.xml" and sheet_name is not None:
                data = data.replace(b'name="Sheet1"', f'name="{sheet_name}"'.encode())
            z.writestr(n, data)
    return buf.getvalue()


def test_cell_forms_match_xlsx2csv(srv, tmp_path):
    """Inline and formula strings, errors, booleans, shared strings, empty cells and
    references with gaps, in a sheet written here into xlsx2csv's utf8.xlsx (its shared
    strings and styles kept), read by both."""
    sheet = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><t>inline</t></is></c>'
             '<c r="D1" t="str"><f>A1</f><v>formula text</v></c></row>'
             '<row r="3"><c r="A3"><v>2.5</v></c><c r="B3" t="b"><v>1</v></c><c r="C3" t="e"><v>#N/A</v></c>'
             '<c r="D3" t="e"><v>#DIV/0!</v></c></row>'
             '<row r="4"><c r="B4"><v>1E-3</v></c><c r="C4"/><c r="D4" t="s"><v>9</v></c></row>')
    data = make_xlsx(sheet)
    path = tmp_path / "forms.xlsx"
    path.write_bytes(data)
    f = srv.folder("sheets-forms")
    meta = ingest(srv, f["id"], None, name="forms.xlsx", data=data)
    ours = csv_rows(convert(srv, meta["id"]))
    assert_same_grid(ours, grid(xlsx2csv(str(path), "Sheet1")), "forms")
    assert ours[1] == ["", "", "", ""] and ours[2][2:] == ["#N/A", "#DIV/0!"]  # the gap is a row
    rows = [list(r.values()) if isinstance(r, dict) else r for r in convert(srv, meta["id"], "json").json()]
    data = ours[1:] if props(all_records(srv, meta["id"])[0])["has_header"] == "true" else ours
    # column B holds TRUE and 0.001: a text column; #N/A is missing whatever the column
    assert len(rows) == len(data) and rows[-2] == [2.5, "TRUE", None, "#DIV/0!"]


def test_a_sheet_name_with_a_line_break_is_one_name(srv):
    """Sheet names are listed one per line and found by name: a line break inside one (an
    XML character reference, as openpyxl writes it) becomes a space, never a second name."""
    f = srv.folder("sheets-names")["id"]
    meta = ingest(srv, f, None, name="q.xlsx",
                  data=make_xlsx('<row r="1"><c r="A1"><v>1</v></c></row>', sheet_name="Q1&#10;2024"))
    assert meta["status"] == "processed", meta
    assert props(meta)["sheet_names"] == "Q1 2024" and props(meta)["sheet_count"] == 1, props(meta)
    assert convert(srv, meta["id"], sheet="Q1 2024").status_code == 200
    problem(convert(srv, meta["id"], sheet="2024"), 404)


def test_a_one_sheet_workbook_is_found_by_its_sheets_properties(srv):
    """A one-sheet workbook's table properties belong to its sheet (its record), not to the
    file: a property search finds the sheet, as often as the file holds one."""
    f = srv.folder("sheets-where")["id"]
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 8))
    meta = ingest(srv, f, None, name="seven.xlsx", data=make_xlsx(rows))
    assert meta["status"] == "processed", meta
    rec = all_records(srv, meta["id"])
    assert len(rec) == 1
    n = props(rec[0])["row_count"]
    hits = srv.api("GET", "/search", params={"where": f"row_count:eq:{n}", "folder_id": f}).json()["hits"]
    assert [(h["file_id"], h.get("record_id")) for h in hits] == [(meta["id"], rec[0]["id"])], hits
    assert {"name": "row_count", "value": n} in [{k: m[k] for k in ("name", "value")} for m in hits[0]["matched"]]


def convert_jobs(s, file_id):
    """The convert jobs of a file, as the admin's job list shows them."""
    out, cursor = [], None
    while True:
        body = s.api("GET", "/jobs?limit=1000" + (f"&cursor={cursor}" if cursor else "")).json()
        out += [j for j in body["jobs"] if j["type"] == "convert" and file_id in j["inputs"]]
        cursor = body["next_cursor"]
        if not cursor:
            return out


def failed(srv, folder, name, data, *needles):
    meta = ingest(srv, folder, None, name=name, data=data)
    assert meta["status"] == "failed", meta
    for n in needles:
        assert n in meta["error"], (n, meta["error"])
    assert srv.api("GET", "/me").status_code == 200
    return meta


def test_hostile_and_broken_workbooks_fail_cleanly(srv):
    f = srv.folder("sheets-hostile")["id"]
    # one value in A1 and one in XFD1048576: read (a million empty rows cost nothing), but
    # no conversion writes 17 billion cells
    sparse = make_xlsx('<row r="1"><c r="A1"><v>1</v></c></row>'
                       '<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>')
    meta = ingest(srv, f, None, name="sparse.xlsx", data=sparse)
    assert meta["status"] == "processed", meta
    rec = props(all_records(srv, meta["id"])[0])
    assert rec["row_count"] + (rec["has_header"] == "true") == 1048576 and rec["column_count"] == 16384
    body = problem(convert(srv, meta["id"]), 422)
    assert "cells" in body["detail"], body
    # the failure is remembered for this version: asked again, the same reason at once and
    # no second convert job
    assert len(convert_jobs(srv, meta["id"])) == 1
    again = problem(convert(srv, meta["id"]), 422)
    assert again["detail"] == body["detail"] and len(convert_jobs(srv, meta["id"])) == 1, again
    # a row of a thousand values repeated a million times: refused while reading
    row = ('<table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="float" '
           'office:value="1" table:number-columns-repeated="1000"/></table:table-row>')
    failed(srv, f, "billion.ods", make_ods(['<table:table table:name="big">' + row + "</table:table>"]), "cells")
    # one 1 MiB text repeated in 2000 rows: few cells, but 2 GiB of text; refused at 1 GiB
    # while reading, so no conversion can write it
    text = os.urandom(700000).hex()[:(1 << 20) - 64]  # random: no zip-bomb ratio
    row = ('<table:table-row table:number-rows-repeated="2000"><table:table-cell office:value-type="string">'
           f"<text:p>{text}</text:p></table:table-cell></table:table-row>")
    failed(srv, f, "amplified.ods", make_ods(['<table:table table:name="big">' + row + "</table:table>"]),
           "MiB of text")
    # a value beyond the last column, and beyond the last row
    failed(srv, f, "wide.xlsx", make_xlsx('<row r="1"><c r="XFE1"><v>1</v></c></row>'), "column")
    failed(srv, f, "long.xlsx", make_xlsx('<row r="1048577"><c r="A1048577"><v>1</v></c></row>'), "row 1048577")
    # a cell pointing past the shared strings
    failed(srv, f, "dangling.xlsx", make_xlsx('<row r="1"><c r="A1" t="s"><v>99</v></c></row>'),
           "shared string", "A1")
    # XML that is not well-formed
    failed(srv, f, "badxml.xlsx", make_xlsx('<row r="1"><c r="A1"><v>1</c></row>'), "not well-formed")
    # an encrypted workbook is an OLE2 container, not a zip
    failed(srv, f, "secret.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088), "password-protected")
    # cut in half
    data = open(ORDER, "rb").read()
    failed(srv, f, "cut.xlsx", data[: len(data) // 2], "zip")
    # and a good workbook still reads
    assert ingest(srv, f, ORDER)["status"] == "processed"


def test_a_user_convert_job_writes_a_chosen_sheet(srv, order_book):
    r = srv.api("POST", "/jobs", json={"type": "convert", "inputs": [order_book["id"]],
                                       "params": {"to": "csv", "sheet": 4}})
    assert r.status_code == 202, r.text
    from conftest import wait_job
    job = wait_job(srv, r.json()["id"])
    assert job["state"] == "succeeded", job
    out = job["outputs"][0]
    body = srv.api("GET", f"/files/{out}/content").content.decode()
    assert [row for row in csv.reader(io.StringIO(body))] == grid(xlsx2csv(ORDER, workbook_sheets(ORDER)[3][0]))
    r = srv.api("POST", "/jobs", json={"type": "convert", "inputs": [order_book["id"]],
                                       "params": {"to": "csv", "sheet": 0}})
    problem(r, 400)
