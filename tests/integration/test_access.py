"""The authorization matrix: every endpoint that touches a folder or file, for every kind of
caller, on private, granted and public objects, generated from one table and run against
the real server. Plus: throttling, CSRF/Origin, token scope, expiry and revocation, and
that no secret is ever stored or logged in plain text."""
import io
import itertools
import os
import sqlite3
import time
import zipfile

import pytest
import requests

from conftest import ADMIN_PASSWORD, make_server, finish, problem

PW = "matrix-password-1"
STATES = ("private", "granted", "public")
ACTORS = ("owner", "editor", "viewer", "member", "other", "anonymous", "link", "read_token",
          "write_token", "revoked_token", "expired_link")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    s = make_server(tmp_path_factory)
    users = {name: s.user(name, PW) for name in ("alice", "bob", "carol", "dave", "eve")}
    group = s.api("POST", "/groups", json={"name": "lab"}).json()
    assert s.api("POST", f"/groups/{group['id']}/members", json={"user_id": users["dave"]["id"]}).status_code == 201
    tokens = {name: s.make_token(name, PW) for name in ("alice", "bob", "carol", "dave", "eve")}
    alice = tokens["alice"]
    tokens["read"] = s.make_token("alice", PW, scope="read")
    revoked = s.make_token("alice", PW)
    tid = [t["id"] for t in s.api("GET", "/tokens", token=alice).json()["tokens"]][-1]
    assert s.api("DELETE", f"/tokens/{tid}", token=alice).status_code == 204
    tokens["revoked"] = revoked

    objs = {}
    for state in STATES:
        f = s.api("POST", "/folders", json={"name": f"{state}-folder"}, token=alice).json()
        sub = s.api("POST", "/folders", json={"name": "sub", "parent_id": f["id"]}, token=alice).json()
        x = s.put(f["id"], "data.txt", f"{state} data".encode(), headers={"Authorization": f"Bearer {alice}"})
        deep = s.put(sub["id"], "deep.txt", b"deep", headers={"Authorization": f"Bearer {alice}"})
        if state == "granted":
            for who, role in (("bob", "editor"), ("carol", "viewer")):
                r = s.api("POST", f"/folders/{f['id']}/grants", json={"user_id": users[who]["id"], "role": role}, token=alice)
                assert r.status_code == 201, r.text
            r = s.api("POST", f"/folders/{f['id']}/grants", json={"group_id": group["id"], "role": "viewer"}, token=alice)
            assert r.status_code == 201
        if state == "public":
            assert s.api("PUT", f"/folders/{f['id']}/visibility", json={"visibility": "public"}, token=alice).status_code == 200
        link = s.api("POST", f"/folders/{f['id']}/links", json={}, token=alice).json()
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        expired = s.api("POST", f"/folders/{f['id']}/links", json={"expires_at": soon}, token=alice).json()
        objs[state] = {"folder": f, "sub": sub, "file": x, "deep": deep, "link": link["token"],
                       "expired_link": expired["token"]}
    time.sleep(2.5)  # the short links expire for real
    yield {"s": s, "users": users, "group": group, "tokens": tokens, "objs": objs}
    finish(s)


def role_of(actor, state):
    """The role the access rules give each actor: 3 owner, 2 editor, 1 viewer, 0 none."""
    if actor in ("owner", "write_token"):
        return 3
    if actor == "read_token":
        return 1
    if actor in ("revoked_token", "expired_link"):
        return 0
    if actor == "link":
        return 1
    public = 1 if state == "public" else 0
    if actor == "editor":
        return 2 if state == "granted" else public
    if actor in ("viewer", "member"):
        return 1 if state == "granted" else public
    return public  # other, anonymous


TOKEN_OF = {"owner": "alice", "editor": "bob", "viewer": "carol", "member": "dave", "other": "eve",
            "read_token": "read", "write_token": "alice", "revoked_token": "revoked"}

# endpoint name -> (kind, how to call it). kind: read / write.
ENDPOINTS = ["get_folder", "get_subfolder", "archive", "get_file", "get_deep_file", "content", "upload",
             "patch_file", "create_subfolder", "set_visibility", "list_grants", "create_link", "delete_file"]
WRITES = {"upload", "patch_file", "create_subfolder", "set_visibility", "list_grants", "create_link", "delete_file"}


def call(world, actor, state, endpoint, tag=""):
    """One request of the matrix; tag keeps the names it makes apart when it runs again."""
    s, o = world["s"], world["objs"][state]
    F, SUB, X, DEEP = o["folder"]["id"], o["sub"]["id"], o["file"]["id"], o["deep"]["id"]
    if actor in ("link", "expired_link"):
        tok = o["link"] if actor == "link" else o["expired_link"]
        paths = {"get_folder": f"/s/{tok}", "get_subfolder": f"/s/{tok}/folders/{SUB}", "archive": f"/s/{tok}/archive",
                 "get_file": f"/s/{tok}/files/{X}", "get_deep_file": f"/s/{tok}/files/{DEEP}",
                 "content": f"/s/{tok}/files/{X}/content"}
        if endpoint not in paths:
            return None  # links are read-only and have no write endpoints
        return requests.get(s.url + paths[endpoint], timeout=30)
    token = "" if actor == "anonymous" else world["tokens"][TOKEN_OF[actor]]
    api = lambda m, p, **kw: s.api(m, p, token=token, **kw)
    if endpoint == "get_folder":
        return api("GET", f"/folders/{F}")
    if endpoint == "get_subfolder":
        return api("GET", f"/folders/{SUB}")
    if endpoint == "archive":
        return api("GET", f"/folders/{F}/archive")
    if endpoint == "get_file":
        return api("GET", f"/files/{X}")
    if endpoint == "get_deep_file":
        return api("GET", f"/files/{DEEP}")
    if endpoint == "content":
        return api("GET", f"/files/{X}/content")
    if endpoint == "upload":
        return api("PUT", f"/folders/{F}/files/by-{actor}{tag}.txt", data=b"x")
    if endpoint == "patch_file":
        return api("PATCH", f"/files/{X}", json={"metadata": {"touched_by": actor}})
    if endpoint == "create_subfolder":
        return api("POST", "/folders", json={"name": f"made-by-{actor}{tag}", "parent_id": F})
    if endpoint == "set_visibility":
        return api("PUT", f"/folders/{F}/visibility", json={"visibility": "public" if state == "public" else "private"})
    if endpoint == "list_grants":
        return api("GET", f"/folders/{F}/grants")
    if endpoint == "create_link":
        return api("POST", f"/files/{X}/links", json={})
    if endpoint == "delete_file":
        victim = s.put(F, f"victim-{actor}{tag}.txt", b"v", headers={"Authorization": f"Bearer {world['tokens']['alice']}"})
        return api("DELETE", f"/files/{victim['id']}")
    raise AssertionError(endpoint)


def expected(actor, state, endpoint):
    if actor == "revoked_token":
        return 401
    if actor == "anonymous" and endpoint == "create_subfolder":
        return 401  # creating anything needs a signed-in user, before any lookup
    role = role_of(actor, state)
    if endpoint not in WRITES:
        return 200 if role >= 1 else 404
    if role == 0:
        return 404
    if role == 1:
        return 401 if actor == "anonymous" else 403
    return {"upload": 201, "create_subfolder": 201, "create_link": 201, "delete_file": 204}.get(endpoint, 200)


CASES = list(itertools.product(ACTORS, STATES, ENDPOINTS))


def verdict(actor, state, endpoint, r):
    """None when r is the answer the rules give actor on endpoint, else what is wrong."""
    want = expected(actor, state, endpoint)
    if r.status_code != want:
        return f"{actor} {state} {endpoint}: {r.status_code}, expected {want}: {r.text[:300]}"
    if want >= 400:
        if not r.headers["Content-Type"].startswith("application/problem+json"):
            return f"{actor} {state} {endpoint}: {want} without problem+json"
        # a refusal never carries the object's content
        if b"data" in r.content.replace(b"no ", b""):
            return f"{actor} {state} {endpoint}: the refusal carries content: {r.text[:300]}"
    if want == 200 and endpoint == "content" and r.content != f"{state} data".encode():
        return f"{actor} {state} {endpoint}: got {r.content[:100]!r}"
    return None


@pytest.mark.parametrize("actor,state,endpoint", CASES, ids=["-".join(c) for c in CASES])
def test_matrix(world, actor, state, endpoint):
    r = call(world, actor, state, endpoint)
    if r is None:
        return
    wrong = verdict(actor, state, endpoint, r)
    assert wrong is None, wrong


def test_listings_show_only_what_the_caller_may_see(world):
    s, t, o = world["s"], world["tokens"], world["objs"]
    names = lambda tok: {f["name"] for f in s.api("GET", "/folders", token=tok).json()["folders"]}
    assert names(t["alice"]) == {"private-folder", "granted-folder", "public-folder"}
    assert names(t["bob"]) == {"granted-folder"}
    assert names(t["dave"]) == {"granted-folder"}
    assert names(t["eve"]) == set()
    problem(s.api("GET", "/folders", token=""), 401)
    # a viewer sees the path from the shared folder down, not above it
    body = s.api("GET", f"/folders/{o['granted']['sub']['id']}", token=t["carol"]).json()
    assert [p["name"] for p in body["path"]] == ["granted-folder", "sub"]


def test_shared_subfolder_does_not_reveal_its_parent(world):
    s, t, o, users = world["s"], world["tokens"], world["objs"], world["users"]
    sub = o["private"]["sub"]
    r = s.api("POST", f"/folders/{sub['id']}/grants", json={"user_id": users["eve"]["id"], "role": "viewer"}, token=t["alice"])
    assert r.status_code == 201
    try:
        body = s.api("GET", f"/folders/{sub['id']}", token=t["eve"]).json()
        assert body["parent_id"] is None
        assert [p["name"] for p in body["path"]] == ["sub"]
        problem(s.api("GET", f"/folders/{o['private']['folder']['id']}", token=t["eve"]), 404)
        assert "sub" in {f["name"] for f in s.api("GET", "/folders", token=t["eve"]).json()["folders"]}
    finally:
        assert s.api("DELETE", f"/folders/{sub['id']}/grants/{r.json()['id']}", token=t["alice"]).status_code == 204
    # revocation takes effect at once
    problem(s.api("GET", f"/folders/{sub['id']}", token=t["eve"]), 404)


def test_zip_of_granted_folder_holds_everything_below(world):
    s, t, o = world["s"], world["tokens"], world["objs"]
    r = s.api("GET", f"/folders/{o['granted']['folder']['id']}/archive", token=t["carol"])
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "granted-folder/data.txt" in names and "granted-folder/sub/deep.txt" in names


def test_file_grant_and_shared_files_listing(world):
    s, t, o, users = world["s"], world["tokens"], world["objs"], world["users"]
    x = o["private"]["file"]
    r = s.api("POST", f"/files/{x['id']}/grants", json={"user_id": users["eve"]["id"], "role": "viewer"}, token=t["alice"])
    assert r.status_code == 201
    assert s.api("GET", f"/files/{x['id']}/content", token=t["eve"]).content == b"private data"
    shared = s.api("GET", "/folders", token=t["eve"]).json()["shared_files"]
    assert [f["id"] for f in shared] == [x["id"]]
    # the file's folder stays hidden
    problem(s.api("GET", f"/folders/{x['folder_id']}", token=t["eve"]), 404)
    assert s.api("DELETE", f"/files/{x['id']}/grants/{r.json()['id']}", token=t["alice"]).status_code == 204
    problem(s.api("GET", f"/files/{x['id']}", token=t["eve"]), 404)


def test_group_membership_change_takes_effect_at_once(world):
    s, t, o, users, g = world["s"], world["tokens"], world["objs"], world["users"], world["group"]
    f = o["granted"]["folder"]
    assert s.api("GET", f"/folders/{f['id']}", token=t["dave"]).status_code == 200
    assert s.api("DELETE", f"/groups/{g['id']}/members/{users['dave']['id']}").status_code == 204
    try:
        problem(s.api("GET", f"/folders/{f['id']}", token=t["dave"]), 404)
    finally:
        assert s.api("POST", f"/groups/{g['id']}/members", json={"user_id": users["dave"]["id"]}).status_code == 201
    assert s.api("GET", f"/folders/{f['id']}", token=t["dave"]).status_code == 200


def test_link_revocation_is_immediate(world):
    s, t, o = world["s"], world["tokens"], world["objs"]
    f = o["private"]["folder"]
    link = s.api("POST", f"/folders/{f['id']}/links", json={}, token=t["alice"]).json()
    assert requests.get(s.url + link["url"]).status_code == 200
    assert link["id"] in [l["id"] for l in s.api("GET", f"/folders/{f['id']}/links", token=t["alice"]).json()["links"]]
    problem(s.api("DELETE", f"/links/{link['id']}", token=t["eve"]), 404)
    problem(s.api("DELETE", f"/links/{link['id']}", token=t["read"]), 403)
    assert s.api("DELETE", f"/links/{link['id']}", token=t["alice"]).status_code == 204
    problem(requests.get(s.url + link["url"]), 404)
    # a link to a file serves its bytes
    x = o["private"]["file"]
    flink = s.api("POST", f"/files/{x['id']}/links", json={}, token=t["alice"]).json()
    r = requests.get(s.url + flink["url"])
    assert r.status_code == 200 and r.content == b"private data"
    # and nothing outside what it shares
    problem(requests.get(s.url + f"/s/{flink['token']}/files/{o['private']['deep']['id']}"), 404)
    problem(requests.get(s.url + f"/s/{o['public']['link']}/files/{x['id']}"), 404)


def test_admin_endpoints_need_an_admin(world):
    s, t = world["s"], world["tokens"]
    for method, path, body in [("GET", "/users", None), ("POST", "/users", {"username": "z", "password": "zzzzzzzzz"}),
                               ("GET", "/groups", None), ("POST", "/groups", {"name": "g2"}), ("GET", "/audit", None)]:
        problem(s.api(method, path, token=t["eve"], json=body), 403)
        problem(s.api(method, path, token="", json=body), 401)
    assert s.api("GET", "/users").status_code == 200


def test_audit_log_records_who_did_what(world):
    s = world["s"]
    entries = s.api("GET", "/audit?limit=1000").json()["entries"]
    actions = {e["action"] for e in entries}
    assert {"login", "user.create", "group.create", "group.member.add", "token.create", "token.revoke",
            "folder.create", "file.upload", "share.grant", "share.visibility", "share.link", "file.delete"} <= actions
    upload = next(e for e in entries if e["action"] == "file.upload")
    assert upload["user_id"] and upload["object_type"] == "file" and upload["object_id"]
    page = s.api("GET", "/audit?limit=5").json()
    nxt = s.api("GET", f"/audit?limit=5&cursor={page['next_cursor']}").json()
    assert page["entries"][-1]["id"] > nxt["entries"][0]["id"]


def test_token_scope_expiry_and_revocation(world):
    s, t = world["s"], world["tokens"]
    me = s.api("GET", "/me", token=t["read"]).json()
    assert me["scope"] == "read" and me["auth"] == "token"
    problem(s.api("PUT", f"/folders/{world['objs']['private']['folder']['id']}/files/n.txt", data=b"n", token=t["read"]), 403)
    r = s.api("POST", "/tokens", json={"name": "x"}, token=t["read"])
    problem(r, 403)
    problem(s.api("POST", "/folders", json={"name": "top"}, token=t["read"]), 403)
    problem(s.api("GET", "/me", token="cbt_not-a-real-token"), 401)
    problem(s.api("GET", "/me", token=t["revoked"]), 401)
    # expiry: move a token's expiry into the past, as time would
    tok = s.make_token("bob", PW, expires_in_days=1)
    assert s.api("GET", "/me", token=tok).status_code == 200
    db = sqlite3.connect(os.path.join(s.data, "carboy.db"), timeout=10)
    db.execute("UPDATE tokens SET expires_at = '2000-01-01T00:00:00.000Z' WHERE expires_at IS NOT NULL")
    db.commit()
    db.close()
    problem(s.api("GET", "/me", token=tok), 401)
    # tokens are never accepted in the URL
    r = requests.get(s.url + f"/api/v1/me?access_token={t['alice']}&token={t['alice']}")
    problem(r, 401)
    listed = s.api("GET", "/tokens", token=t["bob"]).json()["tokens"]
    assert listed and all("token" not in x for x in listed)


def test_login_logout_cookie_and_csrf(world):
    s, users = world["s"], world["users"]
    r = requests.post(s.url + "/api/v1/auth/login", json={"username": "carol", "password": PW})
    assert r.status_code == 200 and r.json()["user"]["username"] == "carol"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    jar = r.cookies
    assert requests.get(s.url + "/api/v1/me", cookies=jar).json()["username"] == "carol"
    # state-changing cookie requests need a same-origin Origin or the CSRF header
    problem(requests.post(s.url + "/api/v1/folders", json={"name": "c1"}, cookies=jar), 403)
    problem(requests.post(s.url + "/api/v1/folders", json={"name": "c1"}, cookies=jar,
                          headers={"Origin": "http://evil.example"}), 403)
    assert requests.post(s.url + "/api/v1/folders", json={"name": "c1"}, cookies=jar,
                         headers={"Origin": f"http://127.0.0.1:{s.port}"}).status_code == 201
    assert requests.post(s.url + "/api/v1/folders", json={"name": "c2"}, cookies=jar,
                         headers={"X-Carboy-CSRF": "1"}).status_code == 201
    # a cross-origin request is refused even with a token
    problem(s.api("POST", "/folders", json={"name": "c3"}, headers={"Origin": "http://evil.example"}), 403)
    # logout ends the session at once
    assert requests.post(s.url + "/api/v1/auth/logout", cookies=jar, headers={"X-Carboy-CSRF": "1"}).status_code == 204
    problem(requests.get(s.url + "/api/v1/me", cookies=jar), 401)
    problem(requests.post(s.url + "/api/v1/auth/login", json={"username": "carol"}), 400)
    problem(requests.post(s.url + "/api/v1/auth/login", json={"username": "carol", "password": PW},
                          headers={"Origin": "http://evil.example"}), 403)
    problem(requests.post(s.url + "/api/v1/auth/login", data="x", headers={"Content-Type": "text/plain"}), 415)


def test_login_throttling(fresh):
    s = fresh()
    s.user("mallory-target", PW)
    codes = [requests.post(s.url + "/api/v1/auth/login", json={"username": "mallory-target", "password": f"wrong{i}"}).status_code
             for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429], codes
    r = requests.post(s.url + "/api/v1/auth/login", json={"username": "mallory-target", "password": PW})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # other users are not affected by one user's lock
    assert requests.post(s.url + "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200
    # per address: many user names from one address
    codes = [requests.post(s.url + "/api/v1/auth/login", json={"username": f"ghost{i}", "password": "x"}).status_code
             for i in range(22)]
    assert 429 in codes and codes[0] == 401
    entries = s.api("GET", "/audit?limit=1000").json()["entries"]
    assert any(e["action"] == "login.throttled" for e in entries)


def test_no_plaintext_secret_is_stored_or_logged(fresh):
    s = fresh(env={"CARBOY_LOG_LEVEL": "debug"})
    s.user("frank", "frank-secret-password")
    tok = s.make_token("frank", "frank-secret-password")
    f = s.api("POST", "/folders", json={"name": "f"}, token=tok).json()
    link = s.api("POST", f"/folders/{f['id']}/links", json={}, token=tok).json()
    assert requests.get(s.url + link["url"]).status_code == 200
    session = s.login("frank", "frank-secret-password").cookies["carboy_session"]
    s.stop()
    blob = b""
    for name in os.listdir(s.data):
        p = os.path.join(s.data, name)
        if os.path.isfile(p):
            blob += open(p, "rb").read()
    logs = s.log_text().encode()
    for secret in (b"frank-secret-password", tok.encode(), link["token"].encode(), session.encode(),
                   ADMIN_PASSWORD.encode()):
        assert secret not in blob, f"{secret[:8]!r}... stored in plain text"
        assert secret not in logs, f"{secret[:8]!r}... logged"
    assert b"$argon2id$" in blob
