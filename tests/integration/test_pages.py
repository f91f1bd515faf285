"""Pages of stacks and long documents: GET /api/v1/files/{id}/preview?page=N draws a
multi-page TIFF's directory N or a PDF's page N as a thumbnail (the preview's size) in a
converter process, on first request, and keeps it.

Inputs are real files from Debian packages: Go's image test data
(golang-golang-x-image-dev) stacked into one TIFF with tiffcp (libtiff-tools), and
libtasn1-doc's manual (36 pages). Each page is checked against PIL's decoding of the same
TIFF frame and against pdftoppm's rendering (poppler-utils) of the same PDF page."""
import io
import shutil
import struct
import subprocess
import threading

import pytest
import requests
from PIL import Image
from conftest import cli, finish, make_server, problem, upload, wait_file

GO = "/usr/share/gocode/src/golang.org/x/image/testdata/"
# three different pictures: 8-bit grey (no compression), RGB (LZW), 1-bit (no compression)
FRAMES = [GO + "video-001-gray.tiff", GO + "blue-purple-pink.lzwcompressed.tiff", GO + "bw-uncompressed.tiff"]
TASN1 = "/usr/share/doc/libtasn1-doc/libtasn1.pdf"  # 36 pages
LIMIT = 30  # CARBOY_PREVIEW_PAGES of this module's server: fewer than the manual's pages


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = make_server(tmp_path_factory, env={"CARBOY_PREVIEW_PAGES": str(LIMIT)})
    yield s
    finish(s)


def png_of(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/png" and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(r.content))


def correlation(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / (va * vb) ** 0.5


def like(img, ref, shrink=1):
    """How alike two pictures are: the correlation of their grey levels at img's size
    divided by shrink (text drawn by two renderers agrees once blurred a little)."""
    size = (img.size[0] // shrink, img.size[1] // shrink)
    a = list(img.convert("L").resize(size, Image.BOX).getdata())
    b = list(ref.convert("L").resize(size, Image.BOX).getdata())
    return correlation(a, b)


def preview_jobs(s, file_id, page):
    body = s.api("GET", "/jobs?helpers=true&limit=500").json()
    return [j for j in body["jobs"] if j["type"] == "preview" and j["inputs"] == [file_id]
            and j["params"] == {"page": page}]


def stack(tmp_path):
    dst = tmp_path / "stack.tif"
    subprocess.run(["tiffcp", *FRAMES, str(dst)], check=True, capture_output=True, timeout=60)
    return dst


def test_tiff_pages(srv, tmp_path):
    f = srv.folder("tiff-pages")
    meta = wait_file(srv, upload(srv, f["id"], stack(tmp_path), "stack.tif")["id"])
    assert meta["status"] == "processed", meta
    assert {p["name"]: p["value"] for p in meta["properties"]}["pages"] == 3
    fid = meta["id"]
    first = srv.api("GET", f"/files/{fid}/preview")
    assert srv.api("GET", f"/files/{fid}/preview?page=1").content == first.content
    assert not preview_jobs(srv, fid, 2)
    # page 2: made on first request, in the interactive lane, and the picture of frame 2
    r2 = srv.api("GET", f"/files/{fid}/preview?page=2")
    p2 = png_of(r2)
    assert r2.content != first.content and p2.size == (150, 100) and p2.mode == "RGB"
    frame = Image.open(FRAMES[1])
    assert like(p2, frame) > 0.98 and like(png_of(first), frame) < 0.5
    jobs = preview_jobs(srv, fid, 2)
    assert len(jobs) == 1 and jobs[0]["state"] == "succeeded" and jobs[0]["lane"] == "interactive", jobs
    # the second request is served from the store: the same bytes, no new job; a
    # revalidation with its ETag is 304
    again = srv.api("GET", f"/files/{fid}/preview?page=2")
    assert again.content == r2.content and again.headers["ETag"] == r2.headers["ETag"]
    assert len(preview_jobs(srv, fid, 2)) == 1
    assert srv.api("GET", f"/files/{fid}/preview?page=2", headers={"If-None-Match": r2.headers["ETag"]}).status_code == 304
    # kept with the version: listed among its artifacts, at an address that answers it
    art = [a for a in srv.api("GET", f"/files/{fid}").json()["artifacts"] if a["kind"] == "preview-p2"]
    assert len(art) == 1 and art[0]["media_type"] == "image/png", art
    assert requests.get(srv.url + art[0]["url"], headers=srv.auth, timeout=60).content == r2.content
    # page 3, asked for by three requests at once: one job draws it for all
    got, together = [], threading.Barrier(3)

    def ask():
        together.wait()
        got.append(srv.api("GET", f"/files/{fid}/preview?page=3"))
    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in got] == [200] * 3 and len({r.content for r in got}) == 1
    p3 = png_of(got[0])
    assert p3.size == (153, 55) and like(p3, Image.open(FRAMES[2])) > 0.98
    assert len(preview_jobs(srv, fid, 3)) == 1
    # past the end, and not a page at all
    body = problem(srv.api("GET", f"/files/{fid}/preview?page=4"), 404)
    assert body["detail"] == f"file {fid} has 3 pages: page 4 does not exist"
    for bad in ("0", "abc", "-1", "1.5", "", "2x", "+2", "99999999999"):
        body = problem(srv.api("GET", f"/files/{fid}/preview?page={bad}"), 400)
        assert "page is a whole number from 1" in body["detail"] and body.get("field") == "page", bad


def test_pdf_pages(srv, tmp_path):
    f = srv.folder("pdf-pages")
    meta = wait_file(srv, upload(srv, f["id"], TASN1)["id"])
    assert meta["status"] == "processed", meta
    assert {p["name"]: p["value"] for p in meta["properties"]}["page_count"] == 36
    fid = meta["id"]
    first = srv.api("GET", f"/files/{fid}/preview")
    for n in (2, 5):
        r = srv.api("GET", f"/files/{fid}/preview?page={n}")
        img = png_of(r)
        assert r.content != first.content and max(img.size) == 256
        subprocess.run(["pdftoppm", "-f", str(n), "-l", str(n), "-scale-to", "256", "-png", "-singlefile", TASN1,
                        str(tmp_path / f"p{n}")], check=True, timeout=60)
        ref = Image.open(tmp_path / f"p{n}.png")
        assert like(img, ref, 4) > 0.9, (n, like(img, ref, 4))
        assert like(img, Image.open(io.BytesIO(first.content)), 4) < 0.5
    assert len(preview_jobs(srv, fid, 2)) == 1
    # past the document's end, and past CARBOY_PREVIEW_PAGES
    body = problem(srv.api("GET", f"/files/{fid}/preview?page=37"), 404)
    assert body["detail"] == f"file {fid} has 36 pages: page 37 does not exist"
    body = problem(srv.api("GET", f"/files/{fid}/preview?page={LIMIT + 1}"), 404)
    assert f"only the first {LIMIT} pages have previews (CARBOY_PREVIEW_PAGES)" in body["detail"]
    assert not preview_jobs(srv, fid, LIMIT + 1) and not preview_jobs(srv, fid, 37)


def test_access_and_files_of_one_page(srv, tmp_path):
    f = srv.folder("pages-access")
    meta = wait_file(srv, upload(srv, f["id"], stack(tmp_path), "private.tif")["id"])
    fid = meta["id"]
    viewer_id = srv.user("pages-viewer")["id"]
    srv.user("pages-stranger")
    viewer = srv.make_token("pages-viewer", "password-" + "x" * 8)
    stranger = srv.make_token("pages-stranger", "password-" + "x" * 8)
    # someone it is not shared with: 404, as for the file, and nothing is drawn for them
    for page in ("1", "2", "9", "abc"):
        problem(srv.api("GET", f"/files/{fid}/preview?page={page}", token=stranger), 404)
    problem(srv.api("GET", f"/files/{fid}/preview?page=2", token=""), 404)  # anonymous
    assert not preview_jobs(srv, fid, 2)
    # a viewer of the folder sees its pages
    r = srv.api("POST", f"/folders/{f['id']}/grants", json={"user_id": viewer_id, "role": "viewer"})
    assert r.status_code in (200, 201), r.text
    owner_page = srv.api("GET", f"/files/{fid}/preview?page=2", token=viewer)
    assert png_of(owner_page).size == (150, 100)
    # a share link of the folder reads the same pages, anonymously
    link = srv.api("POST", f"/folders/{f['id']}/links", json={}).json()["token"]
    r = requests.get(f"{srv.url}/s/{link}/files/{fid}/preview?page=2", timeout=60)
    assert r.status_code == 200 and r.content == owner_page.content
    problem(requests.get(f"{srv.url}/s/{link}/files/{fid}/preview?page=4", timeout=60), 404)
    problem(requests.get(f"{srv.url}/s/{link}/files/{fid}/preview?page=x", timeout=60), 400)
    # a file of one page has no page 2
    png = wait_file(srv, upload(srv, f["id"], GO + "video-001.png")["id"])
    assert png_of(srv.api("GET", f"/files/{png['id']}/preview?page=1")).size == (150, 103)
    body = problem(srv.api("GET", f"/files/{png['id']}/preview?page=2"), 404)
    assert body["detail"] == f"file {png['id']} has one page: page 2 does not exist"


def damage_second_directory(path):
    """Sets the ImageWidth of the stack's second directory (little-endian classic TIFF) to
    0: the first page still reads, the second cannot."""
    b = bytearray(open(path, "rb").read())
    assert b[:4] == b"II*\0"
    ifd = struct.unpack_from("<I", b, 4)[0]
    ifd = struct.unpack_from("<I", b, ifd + 2 + 12 * struct.unpack_from("<H", b, ifd)[0])[0]  # the second
    for i in range(struct.unpack_from("<H", b, ifd)[0]):
        e = ifd + 2 + 12 * i
        tag, typ = struct.unpack_from("<HH", b, e)
        if tag == 256:  # ImageWidth: SHORT or LONG, inline
            b[e + 8:e + 12] = b"\0\0\0\0"
            break
    else:
        raise AssertionError("no ImageWidth in the second directory")
    open(path, "wb").write(bytes(b))


def test_damaged_page_fails_cleanly(srv, tmp_path):
    f = srv.folder("pages-damaged")
    path = stack(tmp_path)
    damage_second_directory(path)
    meta = wait_file(srv, upload(srv, f["id"], path, "damaged.tif")["id"])
    assert meta["status"] == "processed", meta  # its first page is whole
    fid = meta["id"]
    assert png_of(srv.api("GET", f"/files/{fid}/preview")).size == (150, 103)
    body = problem(srv.api("GET", f"/files/{fid}/preview?page=2"), 422)
    assert body["detail"].startswith("page 2 could not be drawn: image: ") and "page 2" in body["detail"][27:]
    assert [j["state"] for j in preview_jobs(srv, fid, 2)] == ["failed"]
    # remembered: answered again at once, without another job
    again = problem(srv.api("GET", f"/files/{fid}/preview?page=2"), 422)
    assert again["detail"] == body["detail"] and len(preview_jobs(srv, fid, 2)) == 1
    # the other pages and the server are fine
    assert png_of(srv.api("GET", f"/files/{fid}/preview?page=3")).size == (153, 55)
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200


def test_the_page_bound_keeps_artifact_names_apart(tmp_path):
    """A page's preview is kept as the artifact "preview-pN", in a 16-byte kind: page
    1000000 would be cut to page 100000's name and be served its picture. The setting stops
    below that."""
    import os
    env = {**os.environ, "CARBOY_PREVIEW_PAGES": "1000000", "CARBOY_LISTEN": "127.0.0.1:0"}
    r = cli(["serve", "--data", str(tmp_path / "d")], env, timeout=60)
    assert r.returncode == 2 and "CARBOY_PREVIEW_PAGES" in r.stderr and "100000" in r.stderr, r.stderr
