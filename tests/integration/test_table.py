"""Tables (CSV, TSV) on real third-party data sets from Debian packages (ggobi's R data
sets, RDKit's data files, xlsx2csv's test files), each statistic checked against an
independent computation with Python's csv module on the same file; conversions read back
with the csv and json modules; broken files (binary data, a stray quote, ragged rows)."""
import csv
import io
import math
import os

import pytest
from conftest import ingest, props

GGOBI = "/usr/share/ggobi/data"
TIPS = f"{GGOBI}/tips.csv"
OLIVE = f"{GGOBI}/olive.csv"
SLEEP = f"{GGOBI}/sleep.csv"  # NA values
TAO = f"{GGOBI}/tao.csv"
TSV = "/usr/share/RDKit/Contrib/Fastcluster/clustered_parse.tsv"  # no header
TPSA = "/usr/share/RDKit/Data/NCI/first_200.tpsa.csv"  # a '#' comment line, no header
CYRILLIC = "/usr/share/doc/xlsx2csv/examples/test/skip_empty_lines.csv"  # CRLF, blank lines

MISSING = {"", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A"}


def python_table(path, delimiter=",", header=True, comment=None, encoding="utf-8"):
    """The independent computation: rows by the csv module, typed with float()/int()."""
    with open(path, newline="", encoding=encoding) as fh:
        lines = [l for l in fh if not (comment and l.startswith(comment))]
    rows = [r for r in csv.reader(io.StringIO("".join(lines)), delimiter=delimiter) if r]
    names = rows[0] if header else None
    data = rows[1:] if header else rows
    width = len(names) if header else max(len(r) for r in data)
    keys = [(n.strip() or f"column_{i + 1}") for i, n in enumerate(names)] if header else \
        [f"column_{i + 1}" for i in range(width)]
    cols = {}
    for i, key in enumerate(keys):
        raw = [r[i] if i < len(r) else "" for r in data]
        present = [v for v in raw if v.strip() not in MISSING]
        stats = {"empty": len(raw) - len(present), "distinct": len(set(present))}
        try:
            nums = [float(v) for v in present]
        except ValueError:
            nums = None
        if nums:
            stats.update(min=min(nums), max=max(nums), mean=math.fsum(nums) / len(nums))
            stats["type"] = "integer" if all(v.strip().lstrip("+-").isdigit() for v in present) else "number"
        cols[key] = stats
    return {"rows": data, "keys": keys, "cols": cols, "header": names}


def check_against_python(p, ref):
    assert p["row_count"] == len(ref["rows"])
    assert p["column_count"] == len(ref["keys"])
    assert p["columns"].split("\t") == ref["keys"]
    for key, st in ref["cols"].items():
        assert p[f"column.{key}.empty"] == st["empty"], key
        assert p[f"column.{key}.distinct"] == st["distinct"], key
        if "mean" in st:
            assert p[f"column.{key}.type"] == st["type"], key
            assert p[f"column.{key}.min"] == pytest.approx(st["min"], rel=1e-12), key
            assert p[f"column.{key}.max"] == pytest.approx(st["max"], rel=1e-12), key
            assert p[f"column.{key}.mean"] == pytest.approx(st["mean"], rel=1e-9), key


@pytest.mark.parametrize("path", [TIPS, OLIVE, SLEEP, TAO])
def test_r_data_sets_match_python(srv, path):
    f = srv.folder("tables-" + os.path.basename(path))
    meta = ingest(srv, f["id"], path)
    assert meta["status"] == "processed" and meta["kind"] == "table", meta
    p = props(meta)
    assert p["delimiter"] == "," and p["has_header"] == "true" and p["line_ending"] == "LF"
    assert p["encoding"] == "UTF-8" and p["rows_inconsistent"] == 0
    ref = python_table(path)
    check_against_python(p, ref)
    # R's unnamed row-name column, and typed columns
    assert ref["keys"][0] == "column_1" and p["column.column_1.type"] == "integer"


def test_types_of_the_tips_columns(srv):
    f = srv.folder("tables-types")
    p = props(ingest(srv, f["id"], TIPS))
    assert p["column.TOTBILL.type"] == "number" and p["column.SIZE.type"] == "integer"
    assert p["column.SEX.type"] == "text" and p["column.SEX.distinct"] == 2
    assert p["column.SMOKER.type"] == "boolean"  # yes / no
    assert "column.SEX.mean" not in p
    # NA counts as empty in sleep.csv, and the column stays numeric
    s = props(ingest(srv, f["id"], SLEEP))
    assert s["column.NonD.empty"] == 14 and s["column.NonD.type"] == "number"


def test_tsv_without_header(srv):
    f = srv.folder("tables-tsv")
    meta = ingest(srv, f["id"], TSV)
    p = props(meta)
    assert meta["kind"] == "table" and p["delimiter"] == "\t" and p["has_header"] == "false"
    check_against_python(p, python_table(TSV, delimiter="\t", header=False))


def test_comment_lines_are_skipped(srv):
    f = srv.folder("tables-comments")
    p = props(ingest(srv, f["id"], TPSA))
    assert p["comment_lines"] == 1 and p["has_header"] == "false"
    check_against_python(p, python_table(TPSA, header=False, comment="#"))


def test_crlf_unicode_header_and_blank_lines(srv):
    f = srv.folder("tables-unicode")
    p = props(ingest(srv, f["id"], CYRILLIC))
    ref = python_table(CYRILLIC)
    assert p["line_ending"] == "CRLF" and p["has_header"] == "true"
    assert p["columns"].split("\t") == ref["keys"] and ref["keys"][2] == "Название"
    check_against_python(p, ref)


def test_latin1_file_is_read_and_its_text_is_utf8(srv, tmp_path):
    text = open(OLIVE, encoding="utf-8").read().replace("North-Apulia", "Nördliches-Apulien")
    path = tmp_path / "olive-latin1.csv"
    path.write_bytes(text.encode("latin-1"))
    f = srv.folder("tables-latin1")
    meta = ingest(srv, f["id"], str(path))
    p = props(meta)
    assert p["encoding"] == "ISO-8859-1"
    check_against_python(p, python_table(str(path), encoding="latin-1"))
    body = srv.api("GET", f"/files/{meta['id']}/text").content.decode("utf-8")
    assert "Nördliches-Apulien" in body


def test_preview_and_text(srv):
    f = srv.folder("tables-preview")
    meta = ingest(srv, f["id"], OLIVE)
    arts = {a["kind"]: a for a in meta["artifacts"]}
    assert arts["table_preview"]["media_type"] == "application/json"
    pv = srv.api("GET", arts["table_preview"]["url"][len("/api/v1"):]).json()
    ref = python_table(OLIVE)
    assert pv["columns"] == ref["keys"] and pv["has_header"] is True
    assert pv["rows"] == ref["rows"][:20]
    assert pv["types"][2] == "text" and pv["types"][3] == "integer"
    text = srv.api("GET", f"/files/{meta['id']}/text").text.splitlines()
    assert len(text) == len(ref["rows"]) + 1
    assert text[1].split("\t") == ref["rows"][0]


def test_conversions_round_trip(srv, tmp_path):
    # a real table with a deliberately awkward cell: quotes, a comma and a line break
    with open(TIPS, newline="") as fh:
        rows = list(csv.reader(fh))
    rows[3][4] = 'said "hi",\nthen left'
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / "tips-edited.csv"
    path.write_text(buf.getvalue())
    f = srv.folder("tables-convert")
    meta = ingest(srv, f["id"], str(path))
    assert props(meta)["row_count"] == len(rows) - 1
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=csv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.content.count(b"\r\n") == len(rows)  # CRLF ends records; the cell keeps its own LF
    assert list(csv.reader(io.StringIO(r.content.decode(), newline=""))) == rows
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=tsv")
    tsv = [line.split("\t") for line in r.text.rstrip("\n").split("\n")]
    assert tsv[0] == rows[0] and tsv[3][4] == 'said "hi", then left' and len(tsv) == len(rows)
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=json")
    assert r.headers["Content-Type"].startswith("application/json")
    objs = r.json()
    assert len(objs) == len(rows) - 1
    assert objs[0] == {"column_1": 1, "OBS": 1, "TOTBILL": float(rows[1][2]), "TIP": float(rows[1][3]),
                       "SEX": "F", "SMOKER": False, "DAY": "sun ", "TIME": "dinner ", "SIZE": 2}
    assert objs[2]["SEX"] == 'said "hi",\nthen left'
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=xlsx")
    assert r.status_code == 400 and "csv" in r.json()["detail"]


def test_json_keeps_missing_values_null_in_every_column(srv, tmp_path):
    """One rule for missing values in JSON: a cell that counts as missing for the statistics
    (MISSING: empty, NA, N/A, NaN, null, ...) is null whatever its column's type; CSV and
    TSV keep the cell as written."""
    with open(TIPS, newline="") as fh:
        rows = list(csv.reader(fh))
    edits = {(2, "SEX"): "NA", (3, "SMOKER"): "", (4, "DAY"): "N/A", (5, "TOTBILL"): "NaN", (6, "SEX"): "null"}
    for (i, col), v in edits.items():
        rows[i][rows[0].index(col)] = v
    path = tmp_path / "tips-missing.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    f = srv.folder("tables-json-null")
    meta = ingest(srv, f["id"], str(path))
    p = props(meta)
    assert p["column.SEX.type"] == "text" and p["column.SMOKER.type"] == "boolean"
    assert p["column.DAY.type"] == "text" and p["column.TOTBILL.type"] == "number"
    objs = srv.api("GET", f"/files/{meta['id']}/convert?to=json").json()
    ref = python_table(str(path))
    assert len(objs) == len(ref["rows"])
    for obj, row in zip(objs, ref["rows"]):
        for key, cell in zip(ref["keys"], row):
            if cell.strip() in MISSING:
                assert obj[key] is None, (key, cell, obj)
            else:
                assert obj[key] is not None, (key, cell, obj)
    assert [objs[i - 1][c] for (i, c) in edits] == [None] * len(edits)
    assert objs[0]["SEX"] == "F" and objs[0]["SMOKER"] is False  # present values keep their types
    back = list(csv.reader(io.StringIO(srv.api("GET", f"/files/{meta['id']}/convert?to=csv").text, newline="")))
    assert back == rows  # the CSV keeps what was written


def test_json_without_header_is_arrays(srv):
    f = srv.folder("tables-json-arrays")
    meta = ingest(srv, f["id"], TPSA)
    out = srv.api("GET", f"/files/{meta['id']}/convert?to=json").json()
    ref = python_table(TPSA, header=False, comment="#")["rows"]
    assert len(out) == len(ref) and out[0] == [ref[0][0], float(ref[0][1])]


def test_txt_named_table_is_sniffed_and_prose_is_not(srv, tmp_path):
    f = srv.folder("tables-sniff")
    meta = ingest(srv, f["id"], OLIVE, name="olive.txt")
    assert meta["kind"] == "table" and props(meta)["row_count"] == 572
    readme = ingest(srv, f["id"], "/usr/share/common-licenses/GPL-3", name="notes.txt")
    assert readme["kind"] == "text"


def test_distinct_counts_stop_at_the_cap(srv, tmp_path):
    # tao.csv's rows repeated with a running id: 14,720 distinct ids, 2 distinct years
    with open(TAO, newline="") as fh:
        rows = list(csv.reader(fh))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id"] + rows[0][1:])
    n = 0
    for _ in range(20):
        for r in rows[1:]:
            n += 1
            w.writerow([n] + r[1:])
    f = srv.folder("tables-cap")
    p = props(ingest(srv, f["id"], None, name="tao-big.csv", data=out.getvalue().encode()))
    assert p["row_count"] == n
    assert p["column.id.distinct"] == 10000 and p["column.id.distinct_capped"] == "true"
    assert p["column.Year.distinct"] == 2 and "column.Year.distinct_capped" not in p
    assert p["column.id.max"] == n and p["column.id.mean"] == pytest.approx((n + 1) / 2)


def test_ragged_rows_are_counted(srv, tmp_path):
    lines = open(OLIVE).read().splitlines()
    lines[10] = lines[10].rsplit(",", 2)[0]        # two cells short
    lines[20] = lines[20] + ",extra"                 # one cell more
    lines = lines[:-1] + [lines[-1][:7]]             # cut mid-row at the end
    path = tmp_path / "olive-ragged.csv"
    path.write_text("\n".join(lines))
    f = srv.folder("tables-ragged")
    meta = ingest(srv, f["id"], str(path))
    p = props(meta)
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    assert meta["status"] == "processed" and meta["kind"] == "table"
    assert p["row_count"] == len(rows) - 1
    assert p["rows_inconsistent"] == sum(1 for r in rows[1:] if len(r) != len(rows[0])) == 3


def test_binary_and_runaway_quote_fail_cleanly(srv, tmp_path):
    f = srv.folder("tables-broken")
    # a real CSV whose tail is binary: the sample looks fine, the reader finds the NUL
    data = open(OLIVE, "rb").read()
    data = data + data + data + os.urandom(4096) + b"\0" * 100
    meta = ingest(srv, f["id"], None, name="olive-binary.csv", data=data)
    assert meta["status"] == "failed" and "NUL" in meta["error"], meta
    # a stray quote opens a cell that never closes: over 1 MiB, the file fails with the line
    lines = open(TPSA).read().splitlines()[1:] * 150
    lines[3] = '"' + lines[3]
    meta = ingest(srv, f["id"], None, name="tpsa-quote.csv", data=("\n".join(lines) + "\n").encode())
    assert meta["status"] == "failed" and "closing quote" in meta["error"], meta
    # random bytes named .csv are no table at all
    meta = ingest(srv, f["id"], None, name="noise.csv", data=os.urandom(30000))
    assert meta["status"] == "failed" and "not a text table" in meta["error"], meta
    assert srv.api("GET", "/me").status_code == 200
