"""Regressions for the outside security review of 0.8.0 (issue 16), one test (or more) per
finding, each of which failed on 0.8.0: the real binary over HTTP, attacked as an ordinary
user and as anonymous."""
import pytest

from conftest import make_server, finish, problem, wait_file

PW = "review-password-1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = make_server(tmp_path_factory)
    s.users = {n: s.user(n, PW) for n in ("alice", "bob", "eve", "carol", "dave")}
    s.tokens = {n: s.make_token(n, PW) for n in ("alice", "bob", "eve", "carol", "dave")}
    yield s
    finish(s)


def as_(s, who):
    return lambda method, path, **kw: s.api(method, path, token=s.tokens[who], **kw)


def grant(s, owner, kind, obj, user, role):
    r = as_(s, owner)("POST", f"/{kind}s/{obj}/grants", json={"username": user, "role": role})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def top_level(s, who):
    body = as_(s, who)("GET", "/folders?limit=1000").json()
    return {f["id"] for f in body["folders"]}, {f["id"] for f in body.get("shared_files", [])}


# ---- 1. an editor must not become the owner by a move ----

def test_editor_cannot_move_a_shared_folder_under_their_own(srv):
    alice, bob = as_(srv, "alice"), as_(srv, "bob")
    shared = alice("POST", "/folders", json={"name": "shared-1"}).json()
    inner = alice("POST", "/folders", json={"name": "inner", "parent_id": shared["id"]}).json()
    doc = srv.put(shared["id"], "doc.txt", b"alice's", headers={"Authorization": f"Bearer {srv.tokens['alice']}"})
    gid = grant(srv, "alice", "folder", shared["id"], "bob", "editor")
    mine = bob("POST", "/folders", json={"name": "bobs"}).json()
    # the folder, a folder inside it and a file: none moves into bob's folder
    body = problem(bob("PATCH", f"/folders/{shared['id']}", json={"parent_id": mine["id"]}), 403)
    assert body["field"] == "parent_id"
    problem(bob("PATCH", f"/folders/{inner['id']}", json={"parent_id": mine["id"]}), 403)
    problem(bob("PATCH", f"/files/{doc['id']}", json={"folder_id": mine["id"]}), 403)
    # nothing moved: still alice's, at her top level, the file where it was
    assert alice("GET", f"/folders/{shared['id']}").json()["parent_id"] in (None, "")
    assert shared["id"] in top_level(srv, "alice")[0]
    assert alice("GET", f"/files/{doc['id']}").json()["folder_id"] == shared["id"]
    # an editor still reorganises inside the owner's tree
    r = bob("PATCH", f"/files/{doc['id']}", json={"folder_id": inner["id"]})
    assert r.status_code == 200 and r.json()["folder_id"] == inner["id"]
    # revoked, bob sees none of it
    assert alice("DELETE", f"/folders/{shared['id']}/grants/{gid}").status_code == 204
    for path in (f"/folders/{shared['id']}", f"/folders/{inner['id']}", f"/files/{doc['id']}"):
        problem(bob("GET", path), 404)


def test_owner_moves_into_another_owners_folder_and_never_loses_it(srv):
    alice, bob = as_(srv, "alice"), as_(srv, "bob")
    mine = alice("POST", "/folders", json={"name": "alices-2"}).json()
    note = srv.put(mine["id"], "note.txt", b"note", headers={"Authorization": f"Bearer {srv.tokens['alice']}"})
    bobs = bob("POST", "/folders", json={"name": "bobs-2"}).json()
    gid = grant(srv, "bob", "folder", bobs["id"], "alice", "editor")
    # the owner may put her own folder into bob's (she may write there)
    r = alice("PATCH", f"/folders/{mine['id']}", json={"parent_id": bobs["id"]})
    assert r.status_code == 200, r.text
    # bob's grant ends: alice still owns, reads and lists her folder and her file
    assert bob("DELETE", f"/folders/{bobs['id']}/grants/{gid}").status_code == 204
    problem(alice("GET", f"/folders/{bobs['id']}"), 404)
    got = alice("GET", f"/folders/{mine['id']}")
    assert got.status_code == 200 and got.json()["owner"]["id"] == srv.users["alice"]["id"]
    assert alice("GET", f"/files/{note['id']}/content").content == b"note"
    assert mine["id"] in top_level(srv, "alice")[0]
    # and a move never hands it to bob either: he owns the folder above, so he manages it,
    # but alice is still its owner
    assert bob("GET", f"/folders/{mine['id']}").json()["owner"]["id"] == srv.users["alice"]["id"]


def test_file_move_into_another_owners_folder_needs_the_files_owner(srv):
    alice, bob = as_(srv, "alice"), as_(srv, "bob")
    shared = alice("POST", "/folders", json={"name": "shared-3"}).json()
    grant(srv, "alice", "folder", shared["id"], "bob", "editor")
    # bob's own file in alice's folder: he owns it, so he may take it home
    his = srv.put(shared["id"], "his.txt", b"his", headers={"Authorization": f"Bearer {srv.tokens['bob']}"})
    home = bob("POST", "/folders", json={"name": "bobs-3"}).json()
    assert bob("PATCH", f"/files/{his['id']}", json={"folder_id": home["id"]}).status_code == 200
    # alice's file, granted to bob directly as editor: bob may edit, not take it
    hers = srv.put(shared["id"], "hers.txt", b"hers", headers={"Authorization": f"Bearer {srv.tokens['alice']}"})
    grant(srv, "alice", "file", hers["id"], "bob", "editor")
    problem(bob("PATCH", f"/files/{hers['id']}", json={"folder_id": home["id"]}), 403)
    assert alice("GET", f"/files/{hers['id']}").json()["folder_id"] == shared["id"]


# ---- 2. search paging must not be an oracle ----

def search(s, who, **params):
    r = as_(s, who)("GET", "/search", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_text_search_pages_reveal_nothing_of_private_matches(srv):
    alice, eve = as_(srv, "alice"), as_(srv, "eve")
    home = eve("POST", "/folders", json={"name": "eves"}).json()
    private = alice("POST", "/folders", json={"name": "private-2"}).json()
    tok = {"Authorization": f"Bearer {srv.tokens['eve']}"}
    mine = [srv.put(home["id"], "quokkaplasm probe.txt", b"my own quokkaplasm notes", headers=tok),
            srv.put(home["id"], "second quokkaplasm.txt", b"quokkaplasm again", headers=tok)]
    for f in mine:  # indexed whole (name and text) before anything is compared
        wait_file(srv, f["id"])

    def view():
        """What eve learns: per page size, how many pages, how many hits on each, their
        scores and cursors, and which files in all. (The order of her own two hits may
        follow FTS5's corpus statistics: docs/SECURITY.md says so.)"""
        out = []
        for q in ("quokkaplasm", "quo*", "quokka*"):
            for limit in (1, 2, 3):
                pages, files = [], set()
                page = search(srv, "eve", q=q, limit=limit)
                while True:
                    pages.append(([h["score"] for h in page["hits"]], page["next_cursor"]))
                    files |= {h["file_id"] for h in page["hits"]}
                    if not page["next_cursor"]:
                        break
                    page = search(srv, "eve", q=q, limit=limit, cursor=page["next_cursor"])
                out.append((q, limit, pages, sorted(files)))
        return out

    before = view()
    # alice's private files: many, ranking above and below eve's (the word in the name
    # weighs ten times, a long text dilutes it)
    atok = {"Authorization": f"Bearer {srv.tokens['alice']}"}
    theirs = []
    for i in range(30):
        name = f"quokkaplasm {i}.txt" if i % 2 else f"private {i}.txt"
        body = (b"quokkaplasm " * (i + 1)) + (b"filler " * (i * 40))
        theirs.append(srv.put(private["id"], name, body, headers=atok))
    for f in theirs:
        wait_file(srv, f["id"])
    assert search(srv, "alice", q="quokkaplasm", limit=1000)["hits"]  # alice finds them
    assert view() == before
    # eve's pages hold her two files, and the last page says so
    page = search(srv, "eve", q="quokkaplasm", limit=2)
    assert len(page["hits"]) == 2 and page["next_cursor"] is None


def test_property_search_pages_reveal_nothing_of_private_values(srv):
    alice, eve = as_(srv, "alice"), as_(srv, "eve")
    home = eve("POST", "/folders", json={"name": "eves-props"}).json()
    f = srv.put(home["id"], "sample.txt", b"x", headers={"Authorization": f"Bearer {srv.tokens['eve']}"})
    assert eve("PATCH", f"/files/{f['id']}", json={"metadata": {"bisect_me": 50}}).status_code == 200

    def view():
        out = []
        for cond in ("bisect_me:gt:0", "bisect_me:lt:100", "bisect_me:ge:50", "bisect_me:le:50"):
            page = search(srv, "eve", where=cond, limit=1)
            out.append(([h["file_id"] for h in page["hits"]], page["next_cursor"]))
        return out

    before = view()
    private = alice("POST", "/folders", json={"name": "private-props"}).json()
    for i, v in enumerate((10, 49, 51, 90)):
        x = srv.put(private["id"], f"secret{i}.txt", b"y", headers={"Authorization": f"Bearer {srv.tokens['alice']}"})
        assert alice("PATCH", f"/files/{x['id']}", json={"metadata": {"bisect_me": v}}).status_code == 200
    assert len(search(srv, "alice", where="bisect_me:gt:0")["hits"]) == 4
    assert view() == before
    # anonymous callers likewise
    anon = srv.api("GET", "/search", token="", params={"where": "bisect_me:gt:0", "limit": 1}).json()
    assert anon == {"hits": [], "next_cursor": None}


# ---- 3. revoked rights and read-scoped tokens must not act through uploads and jobs ----

import base64  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402


def tus_create(s, token, folder_id, name, length):
    meta = "filename {},folder_id {}".format(base64.b64encode(name.encode()).decode(),
                                             base64.b64encode(folder_id.encode()).decode())
    return s.api("POST", "/uploads", token=token, headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(length),
                                                            "Upload-Metadata": meta})


def tus_patch(s, token, location, offset, data):
    return s.api("PATCH", location.replace("/api/v1", ""), token=token, data=data,
                 headers={"Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                          "Content-Type": "application/offset+octet-stream"})


def test_a_revoked_editor_cannot_complete_an_upload(srv):
    alice = as_(srv, "alice")
    shared = alice("POST", "/folders", json={"name": "uploads-4"}).json()
    report = srv.put(shared["id"], "report.txt", b"alice v1", headers={"Authorization": f"Bearer {srv.tokens['alice']}"})
    gid = grant(srv, "alice", "folder", shared["id"], "bob", "editor")
    bob = srv.tokens["bob"]
    body = b"bob overwrites alice's report"
    r = tus_create(srv, bob, shared["id"], "report.txt", len(body))
    assert r.status_code == 201, r.text
    loc = r.headers["Location"]
    assert tus_patch(srv, bob, loc, 0, body[:10]).status_code == 204
    assert alice("DELETE", f"/folders/{shared['id']}/grants/{gid}").status_code == 204
    problem(tus_patch(srv, bob, loc, 10, body[10:]), 404)
    assert srv.api("HEAD", loc.replace("/api/v1", ""), token=bob, headers={"Tus-Resumable": "1.0.0"}).status_code == 404
    meta = alice("GET", f"/files/{report['id']}").json()
    assert meta["version"] == 1 and alice("GET", f"/files/{report['id']}/content").content == b"alice v1"
    # downgraded to viewer instead: 403, and still nothing made
    gid = grant(srv, "alice", "folder", shared["id"], "bob", "viewer")
    problem(tus_patch(srv, bob, loc, 10, body[10:]), 403)
    assert alice("GET", f"/files/{report['id']}").json()["version"] == 1
    # the creator may still end it
    assert srv.api("DELETE", loc.replace("/api/v1", ""), token=bob, headers={"Tus-Resumable": "1.0.0"}).status_code == 204


def test_an_upload_life_is_fixed_at_creation(srv):
    alice = as_(srv, "alice")
    home = alice("POST", "/folders", json={"name": "uploads-5"}).json()
    r = tus_create(srv, srv.tokens["alice"], home["id"], "slow.bin", 30)
    loc = r.headers["Location"]
    uid = loc.rsplit("/", 1)[1]

    def expires():
        with sqlite3.connect(os.path.join(srv.data, "carboy.db")) as db:
            return db.execute("SELECT expires_at FROM uploads WHERE id = ?", (uid,)).fetchone()[0]

    first = expires()
    for i in range(3):
        assert tus_patch(srv, srv.tokens["alice"], loc, i * 5, b"x" * 5).status_code == 204
        assert expires() == first
    # and once past it, the upload is gone for every request
    with sqlite3.connect(os.path.join(srv.data, "carboy.db")) as db:
        db.execute("UPDATE uploads SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", (uid,))
    problem(tus_patch(srv, srv.tokens["alice"], loc, 15, b"y" * 15), 404)


def test_a_read_scoped_token_cannot_upload_or_start_jobs(srv):
    alice = as_(srv, "alice")
    home = alice("POST", "/folders", json={"name": "uploads-6"}).json()
    f = srv.put(home["id"], "a.txt", b"text", headers={"Authorization": f"Bearer {srv.tokens['alice']}"})
    read = srv.make_token("alice", PW, scope="read")
    problem(tus_create(srv, read, home["id"], "r.bin", 4), 403)
    started = tus_create(srv, srv.tokens["alice"], home["id"], "w.bin", 4)
    loc = started.headers["Location"]
    problem(tus_patch(srv, read, loc, 0, b"abcd"), 403)
    problem(srv.api("POST", "/jobs", token=read, json={"type": "ingest", "inputs": [f["id"]]}), 403)
    problem(srv.api("POST", "/tokens", token=read, json={"name": "escalate", "scope": "write"}), 403)
    problem(srv.api("POST", "/webhooks", token=read, json={"url": "http://127.0.0.1:9/x", "events": ["*"], "secret": "s" * 16}), 403)
    # reads still work
    assert srv.api("GET", f"/files/{f['id']}", token=read).status_code == 200


# ---- 11. (part) completing an upload into a deleted folder ----

def test_completing_an_upload_into_a_deleted_folder_is_404(srv):
    alice = as_(srv, "alice")
    home = alice("POST", "/folders", json={"name": "uploads-7"}).json()
    r = tus_create(srv, srv.tokens["alice"], home["id"], "late.bin", 8)
    loc = r.headers["Location"]
    assert tus_patch(srv, srv.tokens["alice"], loc, 0, b"1234").status_code == 204
    assert alice("DELETE", f"/folders/{home['id']}").status_code == 204
    problem(tus_patch(srv, srv.tokens["alice"], loc, 4, b"5678"), 404)
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200  # the server serves on
    assert srv.api("GET", "/me", token=srv.tokens["alice"]).status_code == 200


# ---- 4. delegated shares must not outlive the delegate's right ----

def open_link(s, token):
    import requests
    return requests.get(f"{s.url}/s/{token}", timeout=30)


def test_grants_and_links_made_by_an_editor_lapse_with_the_editors_right(srv):
    alice, bob, eve = as_(srv, "alice"), as_(srv, "bob"), as_(srv, "eve")
    f = alice("POST", "/folders", json={"name": "delegated-8"}).json()
    gid = grant(srv, "alice", "folder", f["id"], "bob", "editor")
    grant(srv, "bob", "folder", f["id"], "eve", "viewer")
    link = bob("POST", f"/folders/{f['id']}/links", json={}).json()
    assert eve("GET", f"/folders/{f['id']}").status_code == 200
    assert open_link(srv, link["token"]).status_code == 200
    # the lists say who made each
    grants = alice("GET", f"/folders/{f['id']}/grants").json()["grants"]
    by = {g["username"]: g for g in grants}
    assert by["eve"]["created_by"]["username"] == "bob" and by["eve"]["lapsed"] is False
    assert by["bob"]["created_by"]["username"] == "alice"
    links = alice("GET", f"/folders/{f['id']}/links").json()["links"]
    assert links[0]["created_by"]["username"] == "bob" and links[0]["lapsed"] is False
    # bob's right ends: what he shared stops at once
    assert alice("DELETE", f"/folders/{f['id']}/grants/{gid}").status_code == 204
    problem(eve("GET", f"/folders/{f['id']}"), 404)
    problem(open_link(srv, link["token"]), 404)
    grants = alice("GET", f"/folders/{f['id']}/grants").json()["grants"]
    assert [g["lapsed"] for g in grants if g["username"] == "eve"] == [True]
    assert alice("GET", f"/folders/{f['id']}/links").json()["links"][0]["lapsed"] is True
    # and it is bob's current right that counts: given back, the delegations work again
    grant(srv, "alice", "folder", f["id"], "bob", "editor")
    assert eve("GET", f"/folders/{f['id']}").status_code == 200
    assert open_link(srv, link["token"]).status_code == 200


def test_delegation_chains_and_cycles_lapse_together(srv):
    alice, bob, carol, eve = as_(srv, "alice"), as_(srv, "bob"), as_(srv, "carol"), as_(srv, "eve")
    f = alice("POST", "/folders", json={"name": "chain-9"}).json()
    gid = grant(srv, "alice", "folder", f["id"], "bob", "editor")
    grant(srv, "bob", "folder", f["id"], "carol", "editor")
    grant(srv, "carol", "folder", f["id"], "eve", "viewer")
    grant(srv, "carol", "folder", f["id"], "bob", "editor")  # bob and carol now hold each other up
    assert eve("GET", f"/folders/{f['id']}").status_code == 200
    assert alice("DELETE", f"/folders/{f['id']}/grants/{gid}").status_code == 204
    for who in (bob, carol, eve):
        problem(who("GET", f"/folders/{f['id']}"), 404)


def test_a_delegation_lapses_when_the_group_or_the_folder_above_no_longer_gives_the_right(srv):
    alice, dave, eve = as_(srv, "alice"), as_(srv, "dave"), as_(srv, "eve")
    g = srv.api("POST", "/groups", json={"name": "review-lab"}).json()
    assert srv.api("POST", f"/groups/{g['id']}/members", json={"user_id": srv.users["dave"]["id"]}).status_code == 201
    f = alice("POST", "/folders", json={"name": "group-10"}).json()
    r = alice("POST", f"/folders/{f['id']}/grants", json={"group": "review-lab", "role": "editor"})
    assert r.status_code == 201, r.text
    grant(srv, "dave", "folder", f["id"], "eve", "viewer")
    assert eve("GET", f"/folders/{f['id']}").status_code == 200
    assert srv.api("DELETE", f"/groups/{g['id']}/members/{srv.users['dave']['id']}").status_code == 204
    problem(eve("GET", f"/folders/{f['id']}"), 404)
    # a right that came from a folder above ends when the owner moves the folder out
    parent = alice("POST", "/folders", json={"name": "parent-10"}).json()
    sub = alice("POST", "/folders", json={"name": "sub", "parent_id": parent["id"]}).json()
    grant(srv, "alice", "folder", parent["id"], "bob", "editor")
    grant(srv, "bob", "folder", sub["id"], "eve", "viewer")
    assert eve("GET", f"/folders/{sub['id']}").status_code == 200
    assert alice("PATCH", f"/folders/{sub['id']}", json={"parent_id": None}).status_code == 200
    problem(eve("GET", f"/folders/{sub['id']}"), 404)


# ---- 10. accounts can be controlled ----

import subprocess  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

from conftest import BIN, cli  # noqa: E402


def test_an_admin_disables_enables_and_ends_the_sessions_of_an_account(fresh):
    s = fresh()
    bob = s.user("bob", PW)
    token = s.make_token("bob", PW)
    browser = s.login("bob", PW)
    assert browser.get(s.url + "/api/v1/me").status_code == 200
    r = s.api("PATCH", f"/users/{bob['id']}", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True and r.json()["sessions_ended"] >= 1
    # at once: the token, the session and a new sign-in stop
    problem(s.api("GET", "/me", token=token), 401)
    problem(browser.get(s.url + "/api/v1/me"), 401)
    body = problem(requests.post(s.url + "/api/v1/auth/login", json={"username": "bob", "password": PW}), 403)
    assert "disabled" in body["detail"]
    problem(requests.post(s.url + "/api/v1/auth/login", json={"username": "bob", "password": "wrong-" + PW}), 401)
    assert [u["disabled"] for u in s.api("GET", "/users").json()["users"] if u["username"] == "bob"] == [True]
    # enabled again: the suspended token acts again, the ended session does not
    assert s.api("PATCH", f"/users/{bob['id']}", json={"disabled": False}).json()["disabled"] is False
    assert s.api("GET", "/me", token=token).status_code == 200
    problem(browser.get(s.url + "/api/v1/me"), 401)
    # an admin ends every session and revokes every token
    s.login("bob", PW)
    r = s.api("DELETE", f"/users/{bob['id']}/sessions")
    assert r.status_code == 200 and r.json()["sessions_ended"] >= 1 and r.json()["tokens_revoked"] >= 1
    problem(s.api("GET", "/me", token=token), 401)
    # an admin sets a password
    assert s.api("PATCH", f"/users/{bob['id']}", json={"password": "reset-by-admin-1"}).status_code == 200
    assert s.login("bob", "reset-by-admin-1")
    problem(s.api("PATCH", f"/users/{bob['id']}", json={"password": "short"}), 400)
    problem(s.api("PATCH", f"/users/{bob['id']}", json={"disabled": "yes"}), 400)
    problem(s.api("PATCH", f"/users/{bob['id']}", json={}), 400)
    problem(s.api("PATCH", "/users/000000000000000000000000", json={"disabled": True}), 404)
    # none of it for anyone else
    other = s.make_token("bob", "reset-by-admin-1")
    problem(s.api("PATCH", f"/users/{bob['id']}", token=other, json={"disabled": False}), 403)
    problem(s.api("DELETE", f"/users/{bob['id']}/sessions", token=other), 403)
    admin_read = s.make_token("admin", s.admin_password(), scope="read")
    problem(s.api("PATCH", f"/users/{bob['id']}", token=admin_read, json={"disabled": True}), 403)


def test_the_last_administrator_stays(fresh):
    s = fresh()
    me = s.api("GET", "/me").json()
    for body in ({"disabled": True}, {"is_admin": False}):
        problem(s.api("PATCH", f"/users/{me['id']}", json=body), 409)
    problem(s.api("DELETE", f"/users/{me['id']}"), 409)
    # with a second administrator, the first may step down
    two = s.user("second-admin", PW, admin=True)
    assert s.api("PATCH", f"/users/{me['id']}", json={"is_admin": False}).json()["is_admin"] is False
    t2 = s.make_token("second-admin", PW)
    problem(s.api("PATCH", f"/users/{two['id']}", token=t2, json={"is_admin": False}), 409)


def test_deleting_an_account_that_owns_data_needs_a_new_owner(fresh):
    s = fresh()
    alice, bob = s.user("alice", PW), s.user("bob", PW)
    ta, tb = s.make_token("alice", PW), s.make_token("bob", PW)
    f = s.api("POST", "/folders", token=tb, json={"name": "bobs-data"}).json()
    x = s.put(f["id"], "x.txt", b"bob's bytes", headers={"Authorization": f"Bearer {tb}"})
    g = s.api("POST", f"/folders/{f['id']}/grants", token=tb, json={"username": "alice", "role": "viewer"})
    assert g.status_code == 201
    # alice already has top-level folders of the names bob's carry (and of the first rename)
    for name in ("bobs-data", "shared", "shared (from bob)"):
        assert s.api("POST", "/folders", token=ta, json={"name": name}).status_code == 201
    sh = s.api("POST", "/folders", token=tb, json={"name": "shared"}).json()
    body = problem(s.api("DELETE", f"/users/{bob['id']}"), 409)
    assert "2 folders and 1 files" in body["detail"]
    assert s.api("GET", "/me", token=tb).status_code == 200  # nothing happened
    problem(s.api("DELETE", f"/users/{bob['id']}", params={"transfer_to": "nobody-here"}), 400)
    assert s.api("DELETE", f"/users/{bob['id']}", params={"transfer_to": "alice"}).status_code == 204
    problem(s.api("GET", "/me", token=tb), 401)
    problem(requests.post(s.url + "/api/v1/auth/login", json={"username": "bob", "password": PW}), 401)
    assert "bob" not in [u["username"] for u in s.api("GET", "/users").json()["users"]]
    got = s.api("GET", f"/folders/{f['id']}", token=ta)
    assert got.status_code == 200 and got.json()["owner"]["id"] == alice["id"]
    assert got.json()["name"] == "bobs-data (from bob)"  # renamed where the names met, nothing lost
    assert s.api("GET", f"/folders/{sh['id']}", token=ta).json()["name"] == "shared (from bob) 2"
    tops = sorted(x["name"] for x in s.api("GET", "/folders", token=ta).json()["folders"])
    assert tops == ["bobs-data", "bobs-data (from bob)", "shared", "shared (from bob)", "shared (from bob) 2"], tops
    assert s.api("GET", f"/files/{x['id']}/content", token=ta).content == b"bob's bytes"
    # the name is free again, and the new bob sees nothing of the old one's
    s.user("bob", PW + "-new")
    tnew = s.make_token("bob", PW + "-new")
    problem(s.api("GET", f"/folders/{f['id']}", token=tnew), 404)
    problem(s.api("DELETE", f"/users/{bob['id']}"), 404)


def test_a_user_changes_their_password_and_signs_out_everywhere(fresh):
    s = fresh()
    s.user("carol", PW)
    one, two = s.login("carol", PW), s.login("carol", PW)
    r = one.put(s.url + "/api/v1/me/password", json={"current_password": "not-it-" + PW, "new_password": "carol-new-pass"})
    problem(r, 403)
    problem(one.put(s.url + "/api/v1/me/password", json={"current_password": PW, "new_password": "short"}), 400)
    r = one.put(s.url + "/api/v1/me/password", json={"current_password": PW, "new_password": "carol-new-pass"})
    assert r.status_code == 200 and r.json()["sessions_ended"] == 2
    problem(two.get(s.url + "/api/v1/me"), 401)
    problem(requests.post(s.url + "/api/v1/auth/login", json={"username": "carol", "password": PW}), 401)
    three = s.login("carol", "carol-new-pass")
    token = s.make_token("carol", "carol-new-pass")
    four = s.login("carol", "carol-new-pass")
    r = three.delete(s.url + "/api/v1/me/sessions")
    assert r.status_code == 200 and r.json()["sessions_ended"] >= 2 and r.json()["tokens_revoked"] == 0
    problem(four.get(s.url + "/api/v1/me"), 401)
    assert s.api("GET", "/me", token=token).status_code == 200
    r = requests.delete(s.url + "/api/v1/me/sessions", params={"tokens": "1"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["tokens_revoked"] >= 1
    problem(s.api("GET", "/me", token=token), 401)


def test_a_disabled_editors_delegations_lapse(fresh):
    s = fresh()
    for n in ("alice", "bob", "eve"):
        s.user(n, PW)
    ta, tb, te = (s.make_token(n, PW) for n in ("alice", "bob", "eve"))
    f = s.api("POST", "/folders", token=ta, json={"name": "f"}).json()
    assert s.api("POST", f"/folders/{f['id']}/grants", token=ta, json={"username": "bob", "role": "editor"}).status_code == 201
    assert s.api("POST", f"/folders/{f['id']}/grants", token=tb, json={"username": "eve", "role": "viewer"}).status_code == 201
    assert s.api("GET", f"/folders/{f['id']}", token=te).status_code == 200
    bob = [u for u in s.api("GET", "/users").json()["users"] if u["username"] == "bob"][0]
    assert s.api("PATCH", f"/users/{bob['id']}", json={"disabled": True}).status_code == 200
    problem(s.api("GET", f"/folders/{f['id']}", token=te), 404)
    assert s.api("PATCH", f"/users/{bob['id']}", json={"disabled": False}).status_code == 200
    assert s.api("GET", f"/folders/{f['id']}", token=te).status_code == 200
    # a disabled owner's own links and grants stop too, and come back with the account
    link = s.api("POST", f"/folders/{f['id']}/links", token=ta, json={}).json()
    assert requests.get(f"{s.url}/s/{link['token']}").status_code == 200
    alice = [u for u in s.api("GET", "/users").json()["users"] if u["username"] == "alice"][0]
    assert s.api("PATCH", f"/users/{alice['id']}", json={"disabled": True}).status_code == 200
    problem(requests.get(f"{s.url}/s/{link['token']}"), 404)
    problem(s.api("GET", f"/folders/{f['id']}", token=te), 404)
    assert s.api("PATCH", f"/users/{alice['id']}", json={"disabled": False}).status_code == 200
    assert requests.get(f"{s.url}/s/{link['token']}").status_code == 200


def test_account_control_from_the_command_line(fresh):
    s = fresh()
    s.user("dave", PW)
    token = s.make_token("dave", PW)
    env = dict(s.env)
    r = cli(["user", "disable", "dave", "--data", s.data], env)
    assert r.returncode == 0 and "'dave' disabled" in r.stdout, r.stderr
    problem(s.api("GET", "/me", token=token), 401)
    r = cli(["user", "list", "--data", s.data], env)
    assert r.returncode == 0 and any("dave" in l and "disabled" in l for l in r.stdout.splitlines())
    assert cli(["user", "enable", "dave", "--data", s.data], env).returncode == 0
    assert s.api("GET", "/me", token=token).status_code == 200
    f = s.api("POST", "/folders", token=token, json={"name": "daves"}).json()
    r = cli(["user", "delete", "dave", "--data", s.data], env)
    assert r.returncode == 2 and "owns 1 folders" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli(["user", "delete", "dave", "--transfer-to", "admin", "--data", s.data], env)
    assert r.returncode == 0, r.stderr
    assert s.api("GET", f"/folders/{f['id']}").json()["owner"]["username"] == "admin"
    for args in (["user", "disable", "nobody"], ["user", "delete", "admin"], ["user", "frob", "x"]):
        r = cli([*args, "--data", s.data], env)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


# ---- 9. sign-in throttling is per (user, address); trusted proxies ----

def login(s, user, password, xff=None, proto=None):
    headers = {}
    if xff:
        headers["X-Forwarded-For"] = xff
    if proto:
        headers["X-Forwarded-Proto"] = proto
    return requests.post(s.url + "/api/v1/auth/login", json={"username": user, "password": password}, headers=headers)


def test_wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere(fresh):
    s = fresh(env={"CARBOY_TRUSTED_PROXIES": "127.0.0.0/8, ::1"})
    s.user("victim", PW)
    codes = [login(s, "victim", f"wrong-{i}", xff="203.0.113.7").status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    # the attacker's address waits; the victim, elsewhere, signs in
    assert login(s, "victim", PW, xff="198.51.100.20").status_code == 200
    problem(login(s, "victim", PW, xff="203.0.113.7"), 429)
    # the waits grow: wait one out, fail again, and the next wait is longer
    first = int(login(s, "victim", "again", xff="203.0.113.7").headers["Retry-After"])
    time.sleep(first + 0.2)
    assert login(s, "victim", "still-wrong", xff="203.0.113.7").status_code == 401
    second = int(login(s, "victim", "and-again", xff="203.0.113.7").headers["Retry-After"])
    assert second > first, (first, second)
    # a client cannot choose its address through a proxy we trust: only the right-most
    # untrusted entry counts (the address the proxy saw)
    codes = [login(s, "victim", f"w{i}", xff=f"192.0.2.{i}, 203.0.113.7").status_code for i in range(3)]
    assert set(codes) == {429}, codes
    # the audit log names the client, not the proxy
    entries = s.api("GET", "/audit?limit=1000").json()["entries"]
    assert any(e["action"] == "login.failed" and e["remote_addr"] == "203.0.113.7" for e in entries)


def test_forwarded_headers_are_ignored_from_untrusted_peers(fresh):
    s = fresh()  # no trusted proxies
    s.user("victim2", PW)
    codes = [login(s, "victim2", f"wrong-{i}", xff=f"198.51.100.{i}").status_code for i in range(6)]
    assert codes[5] == 429, codes  # every try counted against the real peer, 127.0.0.1
    r = login(s, "admin", s.admin_password(), proto="https")
    assert r.status_code == 200 and "Secure" not in r.headers["Set-Cookie"]


def test_behind_an_https_proxy_the_cookie_is_secure_and_the_ui_can_write(fresh):
    s = fresh(env={"CARBOY_TRUSTED_PROXIES": "127.0.0.1"})
    r = login(s, "admin", s.admin_password(), xff="198.51.100.1", proto="https")
    assert r.status_code == 200 and "; Secure" in r.headers["Set-Cookie"]
    session = requests.Session()  # a Secure cookie: sent by hand, as the proxy would over HTTPS
    session.headers["Cookie"] = r.headers["Set-Cookie"].split(";", 1)[0]
    host = s.url.split("//", 1)[1]
    ok = session.post(s.url + "/api/v1/folders", json={"name": "via-proxy"},
                      headers={"Origin": f"https://{host}", "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1"})
    assert ok.status_code == 201, ok.text
    # the same request over plain HTTP is cross-origin
    problem(session.post(s.url + "/api/v1/folders", json={"name": "x"}, headers={"Origin": f"https://{host}"}), 403)


# ---- 11. CORS only for named origins; a token for /metrics ----

def test_no_cors_unless_an_origin_is_allowed(fresh):
    s = fresh()
    pre = requests.options(s.url + "/api/v1/folders", headers={"Origin": "https://evil.example",
                                                               "Access-Control-Request-Method": "DELETE"})
    assert "Access-Control-Allow-Origin" not in pre.headers and pre.status_code in (404, 405)
    r = requests.get(s.url + "/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_allowed_origins_get_cors_with_tokens_never_with_cookies(fresh):
    app = "https://lab-app.example:8443"
    s = fresh(env={"CARBOY_CORS_ORIGINS": f"https://other.example, {app}"})
    pre = requests.options(s.url + "/api/v1/folders/abc", headers={"Origin": app, "Access-Control-Request-Method": "PATCH"})
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == app
    assert set(pre.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "PATCH", "DELETE"}
    assert "Access-Control-Allow-Credentials" not in pre.headers
    # a token from the allowed origin reads and writes
    r = s.api("POST", "/folders", json={"name": "from-app"}, headers={"Origin": app})
    assert r.status_code == 201 and r.headers["Access-Control-Allow-Origin"] == app and r.headers["Vary"] == "Origin"
    # another origin gets nothing
    r = s.api("POST", "/folders", json={"name": "from-elsewhere"}, headers={"Origin": "https://evil.example"})
    problem(r, 403)
    assert "Access-Control-Allow-Origin" not in r.headers
    # the session cookie never writes cross-origin, even from an allowed origin
    browser = s.login("admin", s.admin_password())
    problem(browser.post(s.url + "/api/v1/folders", json={"name": "x"}, headers={"Origin": app}), 403)
    # a bad setting stops the start with one line
    r = subprocess.run([BIN, "serve", "--data", s.data + "-x"], env={**s.env, "CARBOY_CORS_ORIGINS": "https://a.example/path"},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "CARBOY_CORS_ORIGINS" in r.stderr


def test_metrics_can_require_a_token(fresh):
    secret = "metrics-" + "k" * 24
    s = fresh(env={"CARBOY_METRICS_TOKEN": secret})
    problem(requests.get(s.url + "/metrics"), 401)
    problem(requests.get(s.url + "/metrics", headers={"Authorization": "Bearer wrong-" + "k" * 24}), 401)
    problem(requests.get(s.url + "/metrics", headers={"Authorization": f"Bearer {s.token}"}), 401)  # a user token is not it
    r = requests.get(s.url + "/metrics", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and "carboy_http_requests_total" in r.text
    assert requests.get(s.url + "/healthz").status_code == 200
    r = subprocess.run([BIN, "serve", "--data", s.data + "-y"], env={**s.env, "CARBOY_METRICS_TOKEN": "short"},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "CARBOY_METRICS_TOKEN" in r.stderr


# ---- 5. webhooks never reach internal addresses; 6. one user cannot stop the others' ----

import http.server  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402

SECRET = "webhook-secret-0123456789"


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records each delivery (path, time); answers 200, or a redirect to /elsewhere for /redirect."""
    got = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.got.append((self.path, time.time()))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
        else:
            self.send_response(200 if self.path != "/fail" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def receiver():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def hook(s, url, token=None, events=("*",)):
    return s.api("POST", "/webhooks", token=token, json={"url": url, "events": list(events), "secret": SECRET})


INTERNAL = ["http://127.0.0.1:9/x", "http://0x7f000001:9/", "http://2130706433/", "http://127.1/", "http://0177.0.0.1/",
            "http://017700000001/", "http://[::1]:9/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/", "http://localhost:9/", "http://10.0.0.1/", "http://192.168.1.1/",
            "http://172.16.0.1/", "http://100.64.0.1/", "http://[fe80::1]/", "http://[fd00::1]/", "http://0.0.0.0/",
            "http://224.0.0.1/", "http://[::]/", "https://[64:ff9b::7f00:1]/", "http://user:pw@127.0.0.1/"]


def test_webhooks_to_internal_addresses_are_refused_in_every_spelling(fresh):
    s = fresh()
    for url in INTERNAL:
        body = problem(hook(s, url), 400)
        assert body["field"] == "url" and ("internal address" in body["detail"] or "cannot be resolved" in body["detail"]), (url, body)
    assert s.api("GET", "/webhooks").json()["webhooks"] == []


def test_a_webhook_is_checked_again_when_it_connects_and_follows_no_redirect(fresh, tmp_path_factory):
    rx = receiver()
    Receiver.got.clear()
    try:
        s = fresh(env={"CARBOY_WEBHOOK_ALLOW": "127.0.0.0/8"})
        port = rx.server_port
        ok = hook(s, f"http://127.0.0.1:{port}/redirect", events=["file.processed"])
        assert ok.status_code == 201, ok.text
        f = s.folder("hooks")
        s.put(f["id"], "a.txt", b"a")
        deadline = time.time() + 30
        while time.time() < deadline and not any(p == "/redirect" for p, _ in Receiver.got):
            time.sleep(0.1)
        assert any(p == "/redirect" for p, _ in Receiver.got)
        time.sleep(1)
        assert not any(p == "/elsewhere" for p, _ in Receiver.got)  # the redirect was not followed
        # the allow-list gone (as if the name now resolved inside): refused at connect time
        s.stop()
        s.env.pop("CARBOY_WEBHOOK_ALLOW")
        s.start()
        Receiver.got.clear()
        s.put(f["id"], "b.txt", b"b")
        deadline = time.time() + 30
        hooks = []
        while time.time() < deadline:
            hooks = s.api("GET", "/webhooks").json()["webhooks"]
            if hooks and "internal address" in hooks[0].get("last_error", ""):
                break
            time.sleep(0.2)
        assert "internal address (127.0.0.1)" in hooks[0]["last_error"], hooks
        assert Receiver.got == []
    finally:
        rx.shutdown()


def hanging_server():
    """Accepts connections and never answers (a dead target that costs a full timeout)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    conns = []

    def accept():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append((c, time.time()))

    threading.Thread(target=accept, daemon=True).start()
    return srv, conns


def test_dead_targets_of_one_user_do_not_delay_another_users_webhook(fresh):
    rx = receiver()
    Receiver.got.clear()
    dead, conns = hanging_server()
    try:
        s = fresh(env={"CARBOY_WEBHOOK_ALLOW": "127.0.0.0/8"})
        s.user("noisy", PW)
        s.user("quiet", PW)
        tn, tq = s.make_token("noisy", PW), s.make_token("quiet", PW)
        for i in range(3):  # three dead targets (distinct ports would be distinct targets; paths share one)
            assert hook(s, f"http://127.0.0.1:{dead.getsockname()[1]}/dead{i}", token=tn).status_code == 201
        assert hook(s, f"http://127.0.0.1:{rx.server_port}/quiet", token=tq, events=["file.processed"]).status_code == 201
        fn = s.api("POST", "/folders", token=tn, json={"name": "noisy"}).json()
        fq = s.api("POST", "/folders", token=tq, json={"name": "quiet"}).json()
        for i in range(5):  # the noisy user's events first
            s.put(fn["id"], f"n{i}.txt", b"n", headers={"Authorization": f"Bearer {tn}"})
        start = time.time()
        s.put(fq["id"], "q.txt", b"q", headers={"Authorization": f"Bearer {tq}"})
        deadline = time.time() + 60
        while time.time() < deadline and not any(p == "/quiet" for p, _ in Receiver.got):
            time.sleep(0.1)
        arrived = [t for p, t in Receiver.got if p == "/quiet"]
        assert arrived, "the quiet user's delivery never arrived"
        # it arrived while the dead target was still being waited on: the noisy user's
        # ~75 deliveries to it take 10 s each, one at a time, minutes in all (0.8.0 made the
        # quiet one wait behind them); ingesting the file and delivering take seconds
        assert conns, "no attempt reached the dead target"
        assert arrived[0] - start < 30, arrived[0] - start
        # one dead target is tried by one sender at a time, not by all of them
        first_ten = [t for _, t in conns if t - conns[0][1] < 9]
        assert len(first_ten) == 1, len(first_ten)
    finally:
        rx.shutdown()
        dead.close()


def test_webhooks_are_capped_per_user_bounded_per_queue_and_disabled_when_failing(fresh):
    rx = receiver()
    Receiver.got.clear()
    try:
        s = fresh(env={"CARBOY_WEBHOOK_ALLOW": "127.0.0.0/8", "CARBOY_WEBHOOK_QUEUE": "3",
                       "CARBOY_WEBHOOK_DISABLE_AFTER": "3"})
        s.user("hooky", PW)
        t = s.make_token("hooky", PW)
        made = [hook(s, f"http://127.0.0.1:{rx.server_port}/ok{i}", token=t, events=["job.queued"]) for i in range(20)]
        assert all(r.status_code == 201 for r in made)
        problem(hook(s, f"http://127.0.0.1:{rx.server_port}/ok20", token=t), 409)
        for r in made:
            assert s.api("DELETE", f"/webhooks/{r.json()['id']}", token=t).status_code == 204
        # a failing target: its queue stays bounded (drops counted) and it is disabled
        failing = hook(s, f"http://127.0.0.1:{rx.server_port}/fail", token=t).json()
        f = s.api("POST", "/folders", token=t, json={"name": "many"}).json()
        for i in range(12):
            s.put(f["id"], f"m{i}.txt", b"m", headers={"Authorization": f"Bearer {t}"})
        deadline = time.time() + 90
        mine = {}
        while time.time() < deadline:
            mine = s.api("GET", "/webhooks", token=t).json()["webhooks"][0]
            if mine["disabled"]:
                break
            time.sleep(0.3)
        assert mine["id"] == failing["id"] and mine["disabled"] is True, mine
        assert "3 attempts in a row failed" in mine["disabled_reason"] and "500" in mine["disabled_reason"]
        metrics = requests.get(s.url + "/metrics").text
        dropped = int([l for l in metrics.splitlines() if l.startswith("carboy_webhook_deliveries_dropped_total ")][0].split()[1])
        disabled = int([l for l in metrics.splitlines() if l.startswith("carboy_webhooks_disabled_total ")][0].split()[1])
        assert dropped > 0 and disabled == 1
        # disabled: no more attempts
        n = len([p for p, _ in Receiver.got if p == "/fail"])
        s.put(f["id"], "after.txt", b"x", headers={"Authorization": f"Bearer {t}"})
        time.sleep(3)
        assert len([p for p, _ in Receiver.got if p == "/fail"]) == n
        # its owner turns it on again (from a clean slate); nobody else can, nor change more
        problem(s.api("PATCH", f"/webhooks/{failing['id']}", json={"disabled": False}), 404)  # the admin's token
        problem(s.api("PATCH", f"/webhooks/{failing['id']}", token=t, json={"disabled": "no"}), 400)
        problem(s.api("PATCH", f"/webhooks/{failing['id']}", token=t, json={"url": "http://example.org/"}), 400)
        on = s.api("PATCH", f"/webhooks/{failing['id']}", token=t, json={"disabled": False})
        assert on.status_code == 200, on.text
        assert on.json()["disabled"] is False and on.json()["failures"] == 0 and "disabled_reason" not in on.json()
        s.put(f["id"], "again.txt", b"x", headers={"Authorization": f"Bearer {t}"})
        deadline = time.time() + 30
        while time.time() < deadline and len([p for p, _ in Receiver.got if p == "/fail"]) == n:
            time.sleep(0.2)
        assert len([p for p, _ in Receiver.got if p == "/fail"]) > n, "no attempt after it was turned on again"
        off = s.api("PATCH", f"/webhooks/{failing['id']}", token=t, json={"disabled": True}).json()
        assert off["disabled"] is True and off["disabled_reason"]
        for bad in ({"CARBOY_WEBHOOK_ALLOW": "bogus"}, {"CARBOY_WEBHOOK_QUEUE": "0"}):
            r = subprocess.run([BIN, "serve", "--data", s.data + "-z"], env={**s.env, **bad}, capture_output=True,
                               text=True, timeout=30)
            assert r.returncode == 2 and list(bad)[0] in r.stderr
    finally:
        rx.shutdown()


# ---- 8. slow readers must not hold the request threads ----

def test_readers_that_never_read_are_cut_and_others_are_answered(fresh):
    threads = 8
    s = fresh(env={"CARBOY_HTTP_THREADS": str(threads), "CARBOY_HEADER_TIMEOUT": "2"})
    f = s.folder("big")
    big = s.put(f["id"], "big.bin", os.urandom(1024 * 1024) * 24)  # 24 MiB, more than any socket buffers
    url_path = f"/api/v1/files/{big['id']}/content"
    stuck = []
    for i in range(threads + 2):  # more than there are threads, from three addresses
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.bind((f"127.0.0.{2 + i % 3}", 0))
        c.connect(("127.0.0.1", s.port))
        c.sendall(f"GET {url_path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {s.token}\r\n\r\n".encode())
        stuck.append(c)  # and never read
    time.sleep(1)
    # someone else is answered while those never read: well before civetweb's own 60 s
    r = requests.get(s.url + "/healthz", timeout=30)
    assert r.status_code == 200
    r = s.api("GET", f"/files/{big['id']}", timeout=30)
    assert r.status_code == 200
    # the stuck readers were cut: reading now ends early (reset or EOF), not with 24 MiB
    total = 0
    for c in stuck:
        c.settimeout(20)
        try:
            while True:
                chunk = c.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        except (ConnectionResetError, socket.timeout, OSError):
            pass
        c.close()
    assert total < len(stuck) * 24 * 1024 * 1024 / 2, total
    assert "reads a response at under 1024 bytes/s" in s.log_text()
    # a reader that keeps up gets the whole file
    got = s.api("GET", url_path.replace("/api/v1", ""), timeout=120)
    assert got.status_code == 200 and len(got.content) == 24 * 1024 * 1024


# ---- 7. converters are confined for real ----

def children(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                out += [int(p) for p in open(f"/proc/{pid}/task/{task}/children").read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def worker_pids(s):
    """The server's converter processes: every process below it running `carboy worker`
    (a worker, and in a PID namespace the init above it and its own children)."""
    out, todo = [], children(s.proc.pid)
    while todo:
        pid = todo.pop()
        try:
            if open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[1:2] == [b"worker"]:
                out.append(pid)
                todo += children(pid)
        except OSError:
            pass
    return out


def test_a_converter_process_is_confined_in_every_layer(fresh):
    s = fresh(env={"CARBOY_TEST_CONVERTERS": "1", "CARBOY_ADMIN_PASSWORD": "a-secret-admin-password",
                   "AWS_SECRET_ACCESS_KEY": "a-secret-cloud-key"})
    ready = requests.get(s.url + "/readyz").json()
    missing = ready["converters"]["missing"]
    # every layer holds here; a chroot (as ../shared/tools/fresh-machine.sh makes) allows
    # no mount namespace, and the converters reach their folder by descriptor instead
    assert missing in ("", "mount namespace"), ready
    assert "PID namespace" in ready["converters"]["confined_by"], ready
    f = s.folder("confined")
    slow = s.put(f["id"], "watch.slow-test", b"4000")
    deadline = time.time() + 30
    pids = []
    while time.time() < deadline and not pids:
        pids = worker_pids(s)
        time.sleep(0.1)
    assert pids, "no converter process seen"
    mine = os.readlink(f"/proc/{s.proc.pid}/ns/net")
    deadline = time.time() + 30
    while time.time() < deadline and len(pids) < 3:  # the worker, its init, their parent
        time.sleep(0.1)
        pids = worker_pids(s)
    assert len(pids) >= 3, pids
    # the worker proper and its init live in a PID namespace of their own, where the
    # server's pid names nothing
    inner = [p for p in pids if os.readlink(f"/proc/{p}/ns/pid") != os.readlink(f"/proc/{s.proc.pid}/ns/pid")]
    assert len(inner) >= 2, pids
    for pid in inner:
        nspid = open(f"/proc/{pid}/status").read().split("NSpid:")[1].split("\n")[0].split()
        assert len(nspid) == 2 and int(nspid[1]) in (1, 2), nspid
    for pid in pids:
        deadline = time.time() + 30  # the worker installs its filter once it runs (ASan starts slowly)
        while True:
            status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":" in l)
            if status["Seccomp"].strip() == "2" or time.time() > deadline:
                break
            time.sleep(0.1)
        assert status["NoNewPrivs"].strip() == "1" and status["Seccomp"].strip() == "2", status
        assert os.readlink(f"/proc/{pid}/ns/net") != mine
        if not missing:
            assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink(f"/proc/{s.proc.pid}/ns/mnt")
        assert os.readlink(f"/proc/{pid}/ns/ipc") != os.readlink(f"/proc/{s.proc.pid}/ns/ipc")
        uid = status["Uid"].split()
        if os.geteuid() == 0:
            assert len(set(uid)) == 1 and int(uid[0]) >= 60600, uid  # a uid of its own
        else:
            assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink(f"/proc/{s.proc.pid}/ns/user")
        env = open(f"/proc/{pid}/environ", "rb").read()
        assert b"a-secret-admin-password" not in env and b"a-secret-cloud-key" not in env
        assert b"CARBOY_ADMIN_PASSWORD" not in env and b"AWS_" not in env
    assert wait_file(s, slow["id"])["status"] == "processed"


def test_a_converter_that_tries_to_escape_fails_its_job_and_harms_nothing(fresh):
    s = fresh(env={"CARBOY_TEST_CONVERTERS": "1"})
    f = s.folder("escape")
    db = os.path.join(s.data, "carboy.db")
    before = os.path.getsize(db)
    bad = s.put(f["id"], "x.escape-test", f"data={s.data}\nport={s.port}\npid={s.proc.pid}\n".encode())
    got = wait_file(s, bad["id"])
    assert got["status"] == "failed", got
    report = dict(part.split(": ", 1) for part in got["error"].split(": ", 1)[1].split("; "))
    for attempt in ("write db", "read db", "connect", "environ", "write data", "write blobs", "write etc", "signal",
                    "ptrace", "exec"):
        assert report[attempt].startswith("refused ("), (attempt, report)
    bomb = [v for k, v in report.items() if k.startswith("fork bomb")]
    assert bomb and bomb[0].startswith("refused ("), report
    assert "ESCAPED" not in got["error"]
    # the server is unharmed: it answers, its database and data folder are as they were
    assert requests.get(s.url + "/healthz").status_code == 200
    assert not os.path.exists(os.path.join(s.data, "escaped.txt")) and not os.path.exists("/etc/carboy-escaped.txt")
    assert os.path.getsize(db) >= before
    good = s.put(f["id"], "after.txt", b"still works\n")
    assert wait_file(s, good["id"])["status"] == "processed"
