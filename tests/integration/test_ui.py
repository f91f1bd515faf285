"""The browser UI as the server delivers it (the pages themselves are tested in
tests/browser/ with headless Chromium): the entry page for every client-side route with
its Content-Security-Policy and ETag, the hashed assets with their media types and
long-lived caching, 304s; and the API additions the UI relies on: GET /auth/session and
grants by user or group name."""
import re

import requests

from conftest import ADMIN_PASSWORD


def entry(server, path="/"):
    r = requests.get(server.url + path)
    assert r.status_code == 200, (path, r.status_code)
    return r


def test_entry_page_for_every_client_route(server):
    first = entry(server)
    assert first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert first.headers["Cache-Control"] == "no-cache"
    csp = first.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert '<div id="app">' in first.text
    for path in ("/login", "/folders/x1", "/files/abc", "/models/abc", "/search", "/jobs", "/admin"):
        r = entry(server, path)
        assert r.text == first.text and r.headers["ETag"] == first.headers["ETag"]
    # nothing else is the UI: unknown paths stay 404 problems
    assert requests.get(server.url + "/folders").status_code == 404
    assert requests.get(server.url + "/files/a/b").status_code == 404


def test_entry_page_etag_and_304(server):
    r = entry(server)
    etag = r.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{64}"', etag)
    r2 = requests.get(server.url + "/", headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b""
    assert requests.get(server.url + "/", headers={"If-None-Match": '"other"'}).status_code == 200


def test_assets(server):
    page = entry(server).text
    refs = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)
    kinds = {ref.rsplit(".", 1)[1] for ref in refs}
    assert {"js", "css", "svg"} <= kinds, refs
    want = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
    import hashlib
    for ref in refs:
        r = requests.get(server.url + ref)
        assert r.status_code == 200, ref
        assert r.headers["Content-Type"] == want[ref.rsplit(".", 1)[1]]
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["ETag"] == '"%s"' % hashlib.sha256(r.content).hexdigest()
        assert requests.get(server.url + ref, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
        assert requests.head(server.url + ref).headers["Content-Length"] == str(len(r.content))
    # the entry script names its lazily loaded chunk (the molecule editor), which is served too
    js = requests.get(server.url + [x for x in refs if x.endswith(".js")][0]).text
    chunks = set(re.findall(r'(?:\./|/assets/)(editor-[\w-]+\.js)', js))
    assert chunks, "the editor chunk is not referenced"
    for c in chunks:
        assert requests.get(server.url + "/assets/" + c).status_code == 200
    for bad in ("/assets/nope.js", "/assets/..%2Findex.html", "/assets/%2e%2e"):
        r = requests.get(server.url + bad)
        assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json", bad


def test_session(server):
    anon = requests.get(server.url + "/api/v1/auth/session")
    assert anon.status_code == 200 and anon.json() == {"user": None}
    assert anon.headers["Cache-Control"] == "no-store"
    s = server.login("admin", ADMIN_PASSWORD)
    me = s.get(server.url + "/api/v1/auth/session").json()["user"]
    assert me["username"] == "admin" and me["is_admin"] is True and me["auth"] == "session"
    assert me == s.get(server.url + "/api/v1/me").json()
    tok = requests.get(server.url + "/api/v1/auth/session", headers=server.auth).json()["user"]
    assert tok["auth"] == "token"
    bad = requests.get(server.url + "/api/v1/auth/session", headers={"Authorization": "Bearer cbt_nope"})
    assert bad.status_code == 401
    s.post(server.url + "/api/v1/auth/logout")
    assert s.get(server.url + "/api/v1/auth/session").json() == {"user": None}


def test_grants_by_name(server):
    alice = server.user("ui-alice")
    group = server.api("POST", "/groups", json={"name": "ui-lab"}).json()
    folder = server.folder("ui-shared")
    r = server.api("POST", f"/folders/{folder['id']}/grants", json={"username": "ui-alice", "role": "viewer"})
    assert r.status_code == 201, r.text
    assert r.json()["user_id"] == alice["id"] and r.json()["username"] == "ui-alice"
    r = server.api("POST", f"/folders/{folder['id']}/grants", json={"group": "ui-lab", "role": "editor"})
    assert r.status_code == 201 and r.json()["group_id"] == group["id"] and r.json()["group_name"] == "ui-lab"
    grants = server.api("GET", f"/folders/{folder['id']}/grants").json()["grants"]
    assert sorted((g.get("username") or "", g.get("group_name") or "", g["role"]) for g in grants) == \
        [("", "ui-lab", "editor"), ("ui-alice", "", "viewer")]
    # alice now sees the folder
    tok = server.make_token("ui-alice", "password-" + "x" * 8)
    assert server.api("GET", f"/folders/{folder['id']}", token=tok).status_code == 200
    # wrong names and ambiguous bodies are 400 naming the field; nothing is granted
    for body, field in (({"username": "nobody-here", "role": "viewer"}, "username"),
                        ({"group": "no-group", "role": "viewer"}, "group"),
                        ({"username": "ui-alice", "group": "ui-lab", "role": "viewer"}, "user_id"),
                        ({"username": "ui-alice", "user_id": alice["id"], "role": "viewer"}, "user_id"),
                        ({"username": 7, "role": "viewer"}, "username"),
                        ({"role": "viewer"}, "user_id")):
        r = server.api("POST", f"/folders/{folder['id']}/grants", json=body)
        assert r.status_code == 400 and r.json()["field"] == field, (body, r.text)
    assert len(server.api("GET", f"/folders/{folder['id']}/grants").json()["grants"]) == 2
