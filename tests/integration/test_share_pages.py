"""Share links as pages (issue 21): a browser's navigation to /s/{token}, /s/{token}/folders/{id}
and /s/{token}/files/{id} (Accept naming text/html before any JSON) gets the UI's page, with
Vary: Accept; API clients asking for JSON, and curl's bare */*, get the JSON or bytes exactly
as before. /s/{token}/link tells what a link shares, and the read routes the UI's pages use
(preview, text, records, convert, artifacts, depictions, a subfolder's zip) answer below a
link as below /api/v1, for what the link shares only."""
import io
import zipfile

import pytest
import requests

from conftest import problem, wait_file

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def get(s, path, accept=None):
    return requests.get(s.url + path, headers={"Accept": accept} if accept else {}, timeout=60)


@pytest.fixture(scope="module")
def shared(server):
    """A folder with a subfolder and a link, a file with a link of its own, and a file elsewhere."""
    s = server
    top = s.folder("Linked")
    sub = s.folder("inner", top["id"])
    smi = s.put(sub["id"], "two.smi", b"c1ccccc1O phenol\nCCO ethanol\n")
    txt = s.put(top["id"], "note.txt", b"a note\n")
    other = s.put(s.folder("Unlinked")["id"], "secret.txt", b"not shared\n")
    wait_file(s, smi["id"])
    wait_file(s, txt["id"])
    folder_link = s.api("POST", f"/folders/{top['id']}/links", json={}).json()["url"]
    file_link = s.api("POST", f"/files/{txt['id']}/links", json={}).json()["url"]
    return top, sub, smi, txt, other, folder_link, file_link


def test_navigation_gets_the_page_and_api_clients_the_json(server, shared):
    top, sub, smi, txt, _, folder_link, file_link = shared
    page = get(server, "/").text  # the UI's entry page, as /folders/{id} serves it
    for path in (folder_link, f"{folder_link}/folders/{sub['id']}", f"{folder_link}/files/{smi['id']}", file_link,
                 "/s/no-such-token", "/s/no-such-token/files/" + smi["id"]):
        r = get(server, path, BROWSER)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["Content-Type"].startswith("text/html"), path
        assert r.headers["Vary"] == "Accept"
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.text == page
        # the browser's revalidation of the page it holds
        assert requests.get(server.url + path, headers={"Accept": BROWSER, "If-None-Match": r.headers["ETag"]},
                            timeout=60).status_code == 304
    # JSON first, JSON only, or nothing said (curl): the API's answers, as before
    for accept in ("application/json", "application/json, text/html", None, "*/*"):
        r = get(server, folder_link, accept)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json", accept
        assert r.headers.get("Vary") == "Accept", accept  # a cache must not hand it to a browser
        assert r.json()["id"] == top["id"] and r.json()["can"] == ["read"]
        assert get(server, f"{folder_link}/folders/{sub['id']}", accept).json()["files"][0]["id"] == smi["id"]
        assert get(server, f"{folder_link}/files/{smi['id']}", accept).json()["name"] == "two.smi"
        r = get(server, file_link, accept)
        assert r.status_code == 200 and r.content == b"a note\n", accept  # a file's link: its bytes
    assert problem(get(server, "/s/no-such-token", "application/json"), 404) is not None
    assert get(server, "/s/no-such-token", "application/json").headers.get("Vary") == "Accept"
    problem(get(server, "/s/no-such-token"), 404)


def test_what_a_link_shares(server, shared):
    top, _, _, txt, _, folder_link, file_link = shared
    assert get(server, folder_link + "/link").json() == {"type": "folder", "id": top["id"]}
    assert get(server, file_link + "/link").json() == {"type": "file", "id": txt["id"]}
    assert get(server, file_link + "/link", BROWSER).headers["Content-Type"] == "application/json"
    problem(get(server, "/s/no-such-token/link"), 404)


def test_the_pages_read_routes_below_a_link(server, shared):
    top, sub, smi, txt, other, folder_link, file_link = shared
    recs = get(server, f"{folder_link}/files/{smi['id']}/records?limit=10").json()["records"]
    assert [r["title"] for r in recs] == ["phenol", "ethanol"]
    r = get(server, f"{folder_link}/records/{recs[0]['id']}/depiction")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/svg+xml" and b"<svg" in r.content
    r = get(server, f"{folder_link}/files/{smi['id']}/preview")
    assert r.status_code == 200 and b"<svg" in r.content
    r = get(server, f"{folder_link}/files/{smi['id']}/convert?to=can")
    assert r.status_code == 200 and b"phenol" in r.content
    assert get(server, f"{folder_link}/files/{txt['id']}/text").text == "a note\n"
    assert get(server, f"{file_link}/files/{txt['id']}/artifacts/text").text == "a note\n"
    r = get(server, f"{folder_link}/folders/{sub['id']}/archive")
    assert r.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(r.content)).namelist() == ["inner/two.smi"]
    # nothing outside what the link shares, and a file's link shares no folder
    for path in (f"{folder_link}/files/{other['id']}/text", f"{folder_link}/files/{other['id']}/preview",
                 f"{file_link}/files/{smi['id']}/records", f"{file_link}/folders/{top['id']}/archive",
                 f"{file_link}/records/{recs[0]['id']}/depiction", f"/s/no-such-token/files/{txt['id']}/text"):
        problem(get(server, path), 404)
