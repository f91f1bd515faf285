"""PDF (poppler-glib) and office documents (OOXML and ODF through libarchive and expat) on
real third-party files from Debian packages:
  - PDFs: libtasn1-doc's manual (pdfTeX, PDF 1.5, 36 pages) and gofpdf's examples
    (golang-github-jung-kurt-gofpdf-dev: document info, and one encrypted with a user
    password), checked against pdfinfo and pdftotext (poppler-utils) on the same file;
  - office files: the docx/xlsx/pptx/odt/ods/odp samples of
    golang-github-gabriel-vasile-mimetype-dev and xlsx2csv's test workbooks, checked
    against the XML read independently here (zipfile + ElementTree) and against the
    xlsx2csv command line;
and deliberately broken ones (a truncated PDF, damaged zips, zip bombs, an entity-expansion
attack, too many entries), each failing its own job while the server keeps serving."""
import csv
import io
import os
import re
import struct
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import pytest
import requests
from conftest import upload, wait_file, props


TASN1 = "/usr/share/doc/libtasn1-doc/libtasn1.pdf"
GOFPDF = "/usr/share/gocode/src/github.com/jung-kurt/gofpdf/pdf"
MULTICELL = GOFPDF + "/Fpdf_MultiCell.pdf"
PROTECTED = GOFPDF + "/Fpdf_SetProtection.pdf"
MIME = "/usr/share/gocode/src/github.com/gabriel-vasile/mimetype/testdata"
XLSX2CSV = "/usr/share/doc/xlsx2csv/examples/test"

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
DC = "{http://purl.org/dc/elements/1.1/}"
DCTERMS = "{http://purl.org/dc/terms/}"
EP = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}"


def pdfinfo(path):
    out = subprocess.run(["pdfinfo", "-isodates", path], capture_output=True, text=True, timeout=60).stdout
    info = {}
    for line in out.splitlines():
        k, _, v = line.partition(":")
        info[k.strip()] = v.strip()
    return info


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def squash(s):
    """Text without whitespace and hyphens: pdftotext joins words hyphenated at a line end."""
    return "".join(s.split()).replace("-", "").replace("\u2010", "")


def healthy(s):
    assert requests.get(s.url + "/healthz", timeout=10).status_code == 200


# ---------------------------------------------------------------- PDF

@pytest.mark.parametrize("path", [TASN1, MULTICELL])
def test_pdf_matches_pdfinfo_and_pdftotext(srv, path, tmp_path):
    f = srv.folder("pdf-" + os.path.basename(path))
    meta = wait_file(srv, upload(srv, f["id"], path)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "pdf", meta
    p = props(meta)
    info = pdfinfo(path)
    assert p["page_count"] == int(info["Pages"])
    assert p["pdf_version"] == info["PDF version"]
    assert p["encrypted"] == "false" and info["Encrypted"] == "no"
    assert p["linearized"] == ("true" if info["Optimized"] == "yes" else "false")
    for ours, theirs in (("title", "Title"), ("author", "Author"), ("creator", "Creator"),
                         ("producer", "Producer"), ("created", "CreationDate"), ("modified", "ModDate")):
        assert p.get(ours) == info.get(theirs), (ours, p.get(ours), info.get(theirs))
    w, h = (float(x) for x in re.match(r"([\d.]+) x ([\d.]+)", info["Page size"]).groups())
    assert abs(p["page_width"] - w) < 0.01 and abs(p["page_height"] - h) < 0.01
    units = {x["name"]: x.get("unit") for x in meta["properties"]}
    assert units["page_width"] == units["page_height"] == "pt"

    # the text: the same as pdftotext's, page by page, up to whitespace and hyphenation
    r = srv.api("GET", f"/files/{meta['id']}/text")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain"), r.text[:200]
    ours = r.content.decode("utf-8")
    ref = tmp_path / "ref.txt"
    subprocess.run(["pdftotext", path, str(ref)], check=True, timeout=120)
    theirs = ref.read_text()
    our_pages, their_pages = ours.split("\f"), theirs.split("\f")
    assert len(our_pages) == len(their_pages) == p["page_count"] + 1
    for i, (a, b) in enumerate(zip(our_pages, their_pages)):
        assert squash(a) == squash(b), f"page {i + 1} differs"
    assert len(squash(ours)) > 1000

    # the thumbnail: a PNG of page 1, 256 px on its longer side, the page's shape
    r = srv.api("GET", f"/files/{meta['id']}/preview")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    pw, ph = png_size(r.content)
    assert max(pw, ph) == 256
    assert (pw, ph) == (round(w * 256 / max(w, h)), round(h * 256 / max(w, h)))


def test_pdf_known_content(srv):
    """Values seen by eye in the files, not only agreement with poppler-utils."""
    f = srv.folder("pdf-known")
    meta = wait_file(srv, upload(srv, f["id"], MULTICELL)["id"])
    p = props(meta)
    assert p["title"] == "20000 Leagues Under the Seas" and p["author"] == "Jules Verne"
    assert p["created"] == "2000-01-01T00:00:00Z" and p["page_count"] == 4
    text = srv.api("GET", f"/files/{meta['id']}/text").text
    assert "Chapter 1 : A RUNAWAY REEF" in text and "The year 1866 was marked by a bizarre development" in text
    meta = wait_file(srv, upload(srv, f["id"], TASN1)["id"])
    text = srv.api("GET", f"/files/{meta['id']}/text").text
    assert "Abstract Syntax Notation One" in text and props(meta)["producer"].startswith("pdfTeX")


def test_pdf_password_protected_fails_cleanly(srv):
    # pdfinfo cannot open it either without the user password
    assert subprocess.run(["pdfinfo", PROTECTED], capture_output=True).returncode != 0
    f = srv.folder("pdf-protected")
    meta = wait_file(srv, upload(srv, f["id"], PROTECTED)["id"])
    assert meta["status"] == "failed" and "password" in meta["error"], meta
    healthy(srv)


def test_broken_pdfs_fail_cleanly(srv, tmp_path):
    data = open(TASN1, "rb").read()
    (tmp_path / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.pdf").write_bytes(b"%PDF-1.5\n" + os.urandom(30000))
    f = srv.folder("pdf-broken")
    for name in ("truncated.pdf", "noise.pdf"):
        meta = wait_file(srv, upload(srv, f["id"], str(tmp_path / name))["id"])
        assert meta["status"] == "failed" and "PDF" in meta["error"], meta
        assert srv.api("GET", f"/files/{meta['id']}/preview").status_code == 404
        healthy(srv)
    # the server still reads a good one after them
    meta = wait_file(srv, upload(srv, f["id"], MULTICELL)["id"])
    assert meta["status"] == "processed"


# ---------------------------------------------------------------- office

def xml_of(path, part):
    with zipfile.ZipFile(path) as z:
        return ET.fromstring(z.read(part))


def office_text(srv, meta):
    r = srv.api("GET", f"/files/{meta['id']}/text")
    assert r.status_code == 200, r.text
    return r.content.decode("utf-8")


def test_docx_and_pptx_text_and_properties(srv):
    f = srv.folder("ooxml")
    for name, part, tag in (("docx.docx", "word/document.xml", W + "t"), ("pptx.pptx", "ppt/slides/slide1.xml", A + "t")):
        path = os.path.join(MIME, name)
        meta = wait_file(srv, upload(srv, f["id"], path)["id"])
        assert meta["status"] == "processed" and meta["kind"] == "office", meta
        p = props(meta)
        assert p["document_type"] == name.split(".")[1]
        words = [t.text for t in xml_of(path, part).iter(tag) if t.text and t.text.strip()]
        assert words, name
        text = office_text(srv, meta)
        for w in words:
            assert w in text, (name, w)
        core = xml_of(path, "docProps/core.xml")
        app = xml_of(path, "docProps/app.xml")
        assert p["created"] == core.find(DCTERMS + "created").text
        assert p["modified"] == core.find(DCTERMS + "modified").text
        assert p["application"] == app.find(EP + "Application").text
        for ours, theirs in (("page_count", "Pages"), ("word_count", "Words"), ("paragraph_count", "Paragraphs")):
            el = app.find(EP + theirs)
            assert (p.get(ours) is None) == (el is None), (name, ours)
            if el is not None:
                assert p[ours] == int(el.text)
    assert p["slide_count"] == 1  # the pptx


def test_xlsx_sheets_match_xlsx2csv(srv):
    path = os.path.join(XLSX2CSV, "sheets.xlsx")
    f = srv.folder("xlsx")
    meta = wait_file(srv, upload(srv, f["id"], path)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "table", meta  # workbooks are tables (test_sheets.py)
    p = props(meta)
    book = [s.get("name") for s in xml_of(path, "xl/workbook.xml").iter(S + "sheet")]
    assert book == ["Реестр", "Вариант использования"]
    assert p["sheet_names"].split("\n") == book and p["sheet_count"] == 2
    out = subprocess.run(["xlsx2csv", "-a", path], capture_output=True, text=True, timeout=60).stdout
    assert re.findall(r"^-------- \d+ - (.*)$", out, re.M) == book
    cells = [c.strip() for row in csv.reader(io.StringIO(out)) for c in row
             if not (row and row[0].startswith("-------- "))]
    cells = [c for c in cells if re.search(r"[^\W\d_]", c)]  # cells with letters: no number formatting
    assert len(cells) > 40
    text = office_text(srv, meta)
    for c in cells:
        assert " ".join(c.split()) in " ".join(text.split()), c
    assert p["title"] == "Use Case description & register" and p["application"] == "Microsoft Excel"
    # rows keep their cells on one line, tab-separated
    assert "1\tНомер\tПолный код (номер) сценария" in text


def test_xlsx_shared_strings_and_custom_prefixes(srv):
    f = srv.folder("xlsx-more")
    path = os.path.join(MIME, "xlsx.xlsx")
    meta = wait_file(srv, upload(srv, f["id"], path)["id"])
    sst = ["".join(si.itertext()) for si in xml_of(path, "xl/sharedStrings.xml").iter(S + "si")]
    # the text lists the sheet under its name; cells as written: "this ", "is ", ...
    assert office_text(srv, meta).split("\n")[:2] == ["Foaie1", "\t".join(sst)]  # this is an example spreadsheet
    five = wait_file(srv, upload(srv, f["id"], os.path.join(MIME, "xlsx.2.xlsx"))["id"])
    names = [s.get("name") for s in xml_of(os.path.join(MIME, "xlsx.2.xlsx"), "xl/workbook.xml").iter(S + "sheet")]
    assert props(five)["sheet_names"].split("\n") == names and props(five)["sheet_count"] == 5
    # the XML's namespace prefixes differ from Excel's; the values are the same
    ns = os.path.join(XLSX2CSV, "namespace.xlsx")
    meta = wait_file(srv, upload(srv, f["id"], ns)["id"])
    out = subprocess.run(["xlsx2csv", ns], capture_output=True, text=True, timeout=60).stdout
    text = " ".join(office_text(srv, meta).split())
    cells = [c for row in csv.reader(io.StringIO(out)) for c in row if re.search(r"[A-Za-z]", c)]
    assert cells and all(" ".join(c.split()) in text for c in cells)


def test_odf_text_sheets_slides_and_thumbnails(srv):
    f = srv.folder("odf")
    for name in ("odt.odt", "ods.ods", "odp.odp"):
        path = os.path.join(MIME, name)
        meta = wait_file(srv, upload(srv, f["id"], path)["id"])
        kind = "table" if name == "ods.ods" else "office"  # workbooks are tables (test_sheets.py)
        assert meta["status"] == "processed" and meta["kind"] == kind, meta
        p = props(meta)
        assert p["document_type"] == name.split(".")[1]
        content = xml_of(path, "content.xml")
        paras = ["".join(e.itertext()) for e in content.iter() if e.tag in (TEXT + "p", TEXT + "h")]
        paras = [x for x in paras if x.strip()]
        assert paras, name
        text = office_text(srv, meta)
        for x in paras:
            assert x in text, (name, x)
        m = xml_of(path, "meta.xml")
        assert p["created"] == m.find(f".//{META}creation-date").text
        assert p["modified"] == m.find(f".//{DC}date").text
        assert p["application"] == m.find(f".//{META}generator").text
        stat = m.find(f".//{META}document-statistic")
        for ours, theirs in (("page_count", "page-count"), ("word_count", "word-count")):
            v = stat.get(META + theirs)
            assert (p.get(ours) is None) == (v is None) and (v is None or p[ours] == int(v)), (name, ours)
        # the thumbnail the office suite stored is the preview
        r = srv.api("GET", f"/files/{meta['id']}/preview")
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
        with zipfile.ZipFile(path) as z:
            assert r.content == z.read("Thumbnails/thumbnail.png")
        if name == "ods.ods":
            tables = [t.get(TABLE + "name") for t in content.iter(TABLE + "table")]
            assert p["sheet_names"].split("\n") == tables and p["sheet_count"] == len(tables)
            assert "Hello\tWorld" in text  # two cells of one row
        if name == "odp.odp":
            assert p["title"] == "Bright Blue" and p["slide_count"] == 1
        if name == "odt.odt":
            assert p["page_count"] == 1 and "Hello world" in text


# ---------------------------------------------------------------- broken office files

def rezip(src, dst, replace=None, extra=(), method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", method) as zout:
        for n in zin.namelist():
            zout.writestr(n, (replace or {}).get(n, zin.read(n)))
        for n, data in extra:
            zout.writestr(n, data)


def failed_with(srv, folder, path, *needles):
    meta = wait_file(srv, upload(srv, folder, str(path))["id"])
    assert meta["status"] == "failed", meta
    for n in needles:
        assert n in meta["error"], (n, meta["error"])
    healthy(srv)
    return meta


def test_damaged_office_files_fail_cleanly(srv, tmp_path):
    f = srv.folder("office-broken")["id"]
    docx = open(os.path.join(MIME, "docx.docx"), "rb").read()
    (tmp_path / "truncated.docx").write_bytes(docx[: len(docx) // 2])
    failed_with(srv, f, tmp_path / "truncated.docx", "zip")
    # damage the compressed bytes of word/document.xml, leaving the zip's structure intact
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        info = z.getinfo("word/document.xml")
    hdr = info.header_offset
    name_len, extra_len = struct.unpack("<HH", docx[hdr + 26: hdr + 30])
    start = hdr + 30 + name_len + extra_len
    bad = bytearray(docx)
    for i in range(start + 20, start + min(info.compress_size, 400)):
        bad[i] ^= 0xA5
    (tmp_path / "corrupt.docx").write_bytes(bytes(bad))
    failed_with(srv, f, tmp_path / "corrupt.docx", "word/document.xml")
    # a zip that is not an office document, under an office name
    with zipfile.ZipFile(tmp_path / "notoffice.docx", "w") as z:
        z.writestr("readme.txt", "hello")
    failed_with(srv, f, tmp_path / "notoffice.docx", "not an office document")
    # XML that is not well-formed
    rezip(os.path.join(MIME, "docx.docx"), tmp_path / "badxml.docx",
          {"word/document.xml": b"<w:document xmlns:w='x'><w:body><w:p>"})
    failed_with(srv, f, tmp_path / "badxml.docx", "word/document.xml", "XML")


def test_zip_bombs_and_xml_attacks_are_refused(srv, tmp_path):
    f = srv.folder("office-bombs")["id"]
    xlsx = os.path.join(MIME, "xlsx.xlsx")
    # one entry of 1 GiB of zeros: about 1 MiB compressed
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(xlsx) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for n in zin.namelist():
            if n != "xl/worksheets/sheet1.xml":
                z.writestr(n, zin.read(n))
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as w:
            chunk = b"\0" * (16 << 20)
            for _ in range(64):
                w.write(chunk)
    assert bomb.stat().st_size < 4 << 20
    failed_with(srv, f, bomb, "refused", "xl/worksheets/sheet1.xml")

    # the same kind of bomb with headers that lie: sizes patched down to 1000 bytes, so only
    # counting the bytes as they come out can catch it
    liar = tmp_path / "liar.xlsx"
    usize = 40 << 20
    with zipfile.ZipFile(xlsx) as zin, zipfile.ZipFile(liar, "w", zipfile.ZIP_DEFLATED) as z:
        for n in zin.namelist():
            if n != "xl/sharedStrings.xml":
                z.writestr(n, zin.read(n))
        with z.open("xl/sharedStrings.xml", "w") as w:
            for _ in range(40):
                w.write(b" " * (1 << 20))
    data = liar.read_bytes()
    patched = data.replace(struct.pack("<I", usize), struct.pack("<I", 1000))
    assert data.count(struct.pack("<I", usize)) == 2  # the local and the central header
    liar.write_bytes(patched)
    failed_with(srv, f, liar, "xl/sharedStrings.xml", "200:1")

    # billion laughs in the shared strings
    ents = "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">\n' for i in range(1, 10))
    lol = ('<?xml version="1.0"?>\n<!DOCTYPE sst [\n<!ENTITY lol0 "lol">\n' + ents + ']>\n'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>')
    rezip(xlsx, tmp_path / "lol.xlsx", {"xl/sharedStrings.xml": lol.encode()})
    failed_with(srv, f, tmp_path / "lol.xlsx", "xl/sharedStrings.xml", "entit")

    # an external entity (XXE) that would read a local file
    xxe = ('<?xml version="1.0"?>\n<!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           '<w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>')
    rezip(os.path.join(MIME, "docx.docx"), tmp_path / "xxe.docx", {"word/document.xml": xxe.encode()})
    failed_with(srv, f, tmp_path / "xxe.docx", "entit")

    # more than 10,000 entries
    rezip(xlsx, tmp_path / "many.xlsx", extra=[(f"x/{i}", b"") for i in range(10001)], method=zipfile.ZIP_STORED)
    failed_with(srv, f, tmp_path / "many.xlsx", "10000 entries")

    # and the server still reads good files
    meta = wait_file(srv, upload(srv, f, xlsx)["id"])
    assert meta["status"] == "processed" and props(meta)["sheet_names"] == "Foaie1"


def test_claimed_by_content_without_a_suffix(srv):
    f = srv.folder("no-suffix")["id"]
    for path, name, kind, dtype in ((MULTICELL, "report", "pdf", None),
                                    (os.path.join(MIME, "docx.docx"), "letter.bin", "office", "docx"),
                                    (os.path.join(XLSX2CSV, "sheets.xlsx"), "sheets", "table", "xlsx"),
                                    (os.path.join(MIME, "ods.ods"), "table.zip", "table", "ods")):
        meta = wait_file(srv, upload(srv, f, path, name=name)["id"])
        assert meta["status"] == "processed" and meta["kind"] == kind, (name, meta)
        if dtype:
            assert props(meta)["document_type"] == dtype
