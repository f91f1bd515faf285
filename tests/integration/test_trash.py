"""The trash and version restore: an owner's deleted files and folders are listed and can
be restored (a folder with what was deleted with it) for CARBOY_TRASH_DAYS, then the orphan
sweep purges them (rows and blobs); an earlier version can be made the newest again. What
is in the trash is found nowhere else, and is found again (full text, structures) once
restored."""
import glob
import os
import sqlite3
import time

import pytest
import requests

from conftest import wait_file, problem

PW = "trash-password-1"
ALL = ["read", "write", "share", "delete"]
CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"


@pytest.fixture(scope="module")
def w(server):
    s = server
    for n in ("alice", "bob", "eve"):
        s.user(n, PW)
    tok = {n: s.make_token(n, PW) for n in ("alice", "bob", "eve")}
    tok["read"] = s.make_token("alice", PW, scope="read")
    lab = s.api("POST", "/folders", json={"name": "lab"}, token=tok["alice"]).json()
    r = s.api("POST", f"/folders/{lab['id']}/grants", json={"username": "bob", "role": "viewer"}, token=tok["alice"])
    assert r.status_code == 201, r.text
    return {"s": s, "tok": tok, "lab": lab}


def api(w, method, path, who="alice", **kw):
    return w["s"].api(method, path, token=w["tok"][who] if who else "", **kw)


def put(w, folder_id, name, data, who="alice"):
    r = api(w, "PUT", f"/folders/{folder_id}/files/{name}", who, data=data)
    assert r.status_code == 201, r.text
    return r.json()


def folder(w, name, parent=None, who="alice"):
    body = {"name": name, **({"parent_id": parent} if parent else {})}
    r = api(w, "POST", "/folders", who, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def trash(w, who="alice", **params):
    r = api(w, "GET", "/trash", who, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def found(w, word, who="alice"):
    r = api(w, "GET", "/search", who, params={"q": word})
    assert r.status_code == 200, r.text
    return {h["file_id"] for h in r.json()["hits"]}


def structures(w, smiles, who="alice"):
    r = api(w, "GET", "/search/structure", who, params={"smiles": smiles})
    assert r.status_code == 200, r.text
    return {h["file_id"] for h in r.json()["hits"]}


def blob_files(data):
    return {os.path.basename(p) for p in glob.glob(os.path.join(data, "blobs", "??", "??", "*"))}


# ---- version restore ----

def test_restore_an_earlier_version(w):
    s, lab = w["s"], w["lab"]
    v1 = put(w, lab["id"], "notes.txt", b"first draft about quokkaword\n")
    v2 = put(w, lab["id"], "notes.txt", b"second draft about wombatword\n")
    assert v2["id"] == v1["id"] and v2["version"] == 2
    assert wait_file(s, v1["id"])["version"] == 2
    meta = api(w, "GET", f"/files/{v1['id']}").json()
    assert [(v["version"], v["sha256"]) for v in meta["versions"]] == [(1, v1["sha256"]), (2, v2["sha256"])]
    assert all(v["created_by"]["username"] == "alice" and v["size"] and v["created_at"] for v in meta["versions"])
    blobs = blob_files(s.data)
    r = api(w, "POST", f"/files/{v1['id']}/versions/1/restore")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version"] == 3 and body["sha256"] == v1["sha256"] and body["can"] == ALL
    assert r.headers["Location"] == f"/api/v1/files/{v1['id']}"
    assert [v["sha256"] for v in body["versions"]] == [v1["sha256"], v2["sha256"], v1["sha256"]]
    assert blob_files(s.data) == blobs  # the same blob: no bytes copied
    # processed again, as an upload is: its text is the restored one's
    assert wait_file(s, v1["id"])["status"] == "processed"
    assert api(w, "GET", f"/files/{v1['id']}/content").content == b"first draft about quokkaword\n"
    assert v1["id"] in found(w, "quokkaword") and v1["id"] not in found(w, "wombatword")
    # refusals: a viewer (403), an outsider (404), a read-only token (403), anonymous, no such version
    problem(api(w, "POST", f"/files/{v1['id']}/versions/2/restore", "bob"), 403)
    problem(api(w, "POST", f"/files/{v1['id']}/versions/2/restore", "eve"), 404)
    problem(api(w, "POST", f"/files/{v1['id']}/versions/2/restore", "read"), 403)
    assert api(w, "POST", f"/files/{v1['id']}/versions/2/restore", None).status_code in (401, 404)
    for bad in ("9", "0", "x", "-1"):
        problem(api(w, "POST", f"/files/{v1['id']}/versions/{bad}/restore"), 404)
    assert api(w, "GET", f"/files/{v1['id']}").json()["version"] == 3


# ---- the trash ----

def test_a_deleted_file_is_in_the_trash_only_and_comes_back(w):
    s, lab = w["s"], w["lab"]
    sub = folder(w, "deep", lab["id"])
    f = put(w, sub["id"], "zephyr.txt", b"a note on zephyrineword\n")
    assert wait_file(s, f["id"])["status"] == "processed"
    assert f["id"] in found(w, "zephyrineword")
    t0 = time.time()
    assert api(w, "DELETE", f"/files/{f['id']}").status_code == 204
    # gone from everything else
    assert f["id"] not in found(w, "zephyrineword")
    problem(api(w, "GET", f"/files/{f['id']}"), 404)
    assert f["id"] not in {x["id"] for x in api(w, "GET", f"/folders/{sub['id']}").json()["files"]}
    # in the owner's trash, not in a viewer's
    items = {i["id"]: i for i in trash(w)["items"]}
    it = items[f["id"]]
    assert it["type"] == "file" and it["name"] == "zephyr.txt" and it["folder_id"] == sub["id"]
    assert it["path"] == "/lab/deep" and it["size"] == len(b"a note on zephyrineword\n") and it["can"] == ALL
    deleted = time.mktime(time.strptime(it["deleted_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    purge = time.mktime(time.strptime(it["purge_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(deleted - t0) < 30 and purge - deleted == 30 * 86400
    assert f["id"] not in {i["id"] for i in trash(w, "bob")["items"]}
    problem(api(w, "POST", f"/files/{f['id']}/restore", "bob"), 404)
    problem(api(w, "POST", f"/files/{f['id']}/restore", "read"), 403)
    problem(api(w, "GET", "/trash", None), 401)
    # restored: where it was, found again, out of the trash
    r = api(w, "POST", f"/files/{f['id']}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == f["id"] and r.json()["folder_id"] == sub["id"] and r.json()["can"] == ALL
    assert f["id"] in {x["id"] for x in api(w, "GET", f"/folders/{sub['id']}").json()["files"]}
    assert f["id"] in found(w, "zephyrineword")
    assert api(w, "GET", f"/files/{f['id']}/content").content == b"a note on zephyrineword\n"
    assert f["id"] not in {i["id"] for i in trash(w)["items"]}
    problem(api(w, "POST", f"/files/{f['id']}/restore"), 404)  # not in the trash any more


def test_a_folder_comes_back_with_what_was_deleted_with_it(w):
    s = w["s"]
    tree = folder(w, "tree")
    inner = folder(w, "inner", tree["id"])
    t1 = put(w, tree["id"], "t1.txt", b"tree file larkspurword\n")
    t2 = put(w, inner["id"], "mols.smi", f"{CAFFEINE} caffeine\n".encode())
    t0 = put(w, tree["id"], "t0.txt", b"deleted before the folder\n")
    for f in (t1, t2):
        assert wait_file(s, f["id"])["status"] == "processed"
    assert t2["id"] in structures(w, CAFFEINE)
    assert api(w, "DELETE", f"/files/{t0['id']}").status_code == 204
    time.sleep(0.01)  # a deletion of its own, at another moment than the folder's
    assert api(w, "DELETE", f"/folders/{tree['id']}").status_code == 204
    assert t2["id"] not in structures(w, CAFFEINE) and t1["id"] not in found(w, "larkspurword")
    problem(api(w, "GET", f"/folders/{inner['id']}"), 404)
    items = trash(w)["items"]
    ids = [i["id"] for i in items]
    # the folder once (newest first), the file deleted before it on its own; not what went with it
    assert ids.index(tree["id"]) < ids.index(t0["id"])
    assert not {inner["id"], t1["id"], t2["id"]} & set(ids)
    top = next(i for i in items if i["id"] == tree["id"])
    assert top["type"] == "folder" and top["folder_id"] is None and top["path"] == "/" and "size" not in top
    # what went with the folder comes back through it only
    body = problem(api(w, "POST", f"/files/{t1['id']}/restore"), 409)
    assert "restore folder tree first" in body["detail"]
    problem(api(w, "POST", f"/folders/{inner['id']}/restore"), 409)
    r = api(w, "POST", f"/folders/{tree['id']}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == tree["id"] and r.json()["can"] == ALL
    listing = api(w, "GET", f"/folders/{tree['id']}").json()
    assert {x["id"] for x in listing["folders"]} == {inner["id"]}
    assert {x["id"] for x in listing["files"]} == {t1["id"]}  # t0 stays in the trash
    assert t0["id"] in {i["id"] for i in trash(w)["items"]}
    assert t2["id"] in structures(w, CAFFEINE) and t1["id"] in found(w, "larkspurword")
    assert api(w, "GET", f"/files/{t2['id']}").json()["status"] == "processed"


def test_a_restore_needs_the_right_to_write_where_it_goes(w):
    """A restore writes into the folder the item was in: an owner who has lost the
    folder's grant may neither put their file back there nor learn, from a name clash,
    what that folder holds now (404, as for anything they may not see)."""
    s = w["s"]
    shared = folder(w, "revoked-share")
    g = api(w, "POST", f"/folders/{shared['id']}/grants", json={"username": "eve", "role": "editor"}).json()
    mine = put(w, shared["id"], "eves.txt", b"eve wrote this", who="eve")
    clash = put(w, shared["id"], "clash.txt", b"eve's, deleted", who="eve")
    assert api(w, "DELETE", f"/files/{mine['id']}", "eve").status_code == 204
    assert api(w, "DELETE", f"/files/{clash['id']}", "eve").status_code == 204
    put(w, shared["id"], "clash.txt", b"alice's, live")
    sub = folder(w, "eves-sub", shared["id"], who="eve")
    assert api(w, "DELETE", f"/folders/{sub['id']}", "eve").status_code == 204
    assert {mine["id"], clash["id"], sub["id"]} <= {i["id"] for i in trash(w, "eve")["items"]}
    assert api(w, "DELETE", f"/folders/{shared['id']}/grants/{g['id']}").status_code == 204
    # listed still (hers), but as what she may not put back: no "Restore" in the UI
    cans = {i["id"]: i["can"] for i in trash(w, "eve")["items"]}
    assert cans[mine["id"]] == cans[clash["id"]] == cans[sub["id"]] == ["read"]
    for kind, x in (("files", mine), ("files", clash), ("folders", sub)):
        body = problem(api(w, "POST", f"/{kind}/{x['id']}/restore", "eve"), 404)
        assert "clash" not in body["detail"] and "revoked-share" not in body["detail"]
    assert [x["name"] for x in api(w, "GET", f"/folders/{shared['id']}").json()["files"]] == ["clash.txt"]
    # with the grant back, the file comes back (the clash is now hers to know)
    api(w, "POST", f"/folders/{shared['id']}/grants", json={"username": "eve", "role": "editor"})
    assert {i["id"]: i["can"] for i in trash(w, "eve")["items"]}[mine["id"]] == ALL
    r = api(w, "POST", f"/files/{mine['id']}/restore", "eve")
    assert r.status_code == 200 and r.json()["folder_id"] == shared["id"], r.text
    assert "clash.txt" in problem(api(w, "POST", f"/files/{clash['id']}/restore", "eve"), 409)["detail"]
    # a viewer's grant is not enough; the folder's owner or an admin may
    g2 = [x for x in api(w, "GET", f"/folders/{shared['id']}/grants").json()["grants"] if x.get("role") == "editor"]
    for x in g2:
        api(w, "DELETE", f"/folders/{shared['id']}/grants/{x['id']}")
    api(w, "POST", f"/folders/{shared['id']}/grants", json={"username": "eve", "role": "viewer"})
    problem(api(w, "POST", f"/folders/{sub['id']}/restore", "eve"), 404)
    assert s.api("POST", f"/folders/{sub['id']}/restore").status_code == 200


def test_a_parent_in_someone_elses_trash_is_not_named(w):
    """An item whose folder is in another user's trash: 404, not a 409 naming that folder."""
    box = folder(w, "secret-box-name")
    api(w, "POST", f"/folders/{box['id']}/grants", json={"username": "eve", "role": "editor"})
    f = put(w, box["id"], "in-box.txt", b"x", who="eve")
    assert api(w, "DELETE", f"/files/{f['id']}", "eve").status_code == 204
    time.sleep(0.01)
    assert api(w, "DELETE", f"/folders/{box['id']}").status_code == 204
    body = problem(api(w, "POST", f"/files/{f['id']}/restore", "eve"), 404)
    assert "secret-box-name" not in body["detail"]
    # its owner is told which folder to restore first
    mine = put(w, folder(w, "own-box")["id"], "own.txt", b"y")
    assert api(w, "DELETE", f"/files/{mine['id']}").status_code == 204
    time.sleep(0.01)
    assert api(w, "DELETE", f"/folders/{mine['folder_id']}").status_code == 204
    assert "own-box" in problem(api(w, "POST", f"/files/{mine['id']}/restore"), 409)["detail"]


def test_a_taken_name_is_a_conflict(w):
    lab = w["lab"]
    old = put(w, lab["id"], "dup.txt", b"old")
    assert api(w, "DELETE", f"/files/{old['id']}").status_code == 204
    new = put(w, lab["id"], "dup.txt", b"new")
    assert new["id"] != old["id"]
    body = problem(api(w, "POST", f"/files/{old['id']}/restore"), 409)
    assert "dup.txt" in body["detail"]
    top = folder(w, "samename")
    assert api(w, "DELETE", f"/folders/{top['id']}").status_code == 204
    folder(w, "samename")
    problem(api(w, "POST", f"/folders/{top['id']}/restore"), 409)
    # once the name is free again, it comes back
    assert api(w, "DELETE", f"/files/{new['id']}").status_code == 204
    assert api(w, "POST", f"/files/{old['id']}/restore").status_code == 200


def test_paging_and_an_admins_view(w):
    s = w["s"]
    everything = [i["id"] for i in trash(w, limit=1000)["items"]]
    assert len(everything) >= 3
    got, cursor = [], None
    while True:
        page = trash(w, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2
        got += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert got == everything
    dates = [i["deleted_at"] for i in trash(w)["items"]]
    assert dates == sorted(dates, reverse=True)
    problem(api(w, "GET", "/trash", params={"cursor": "bm9wZQ"}), 400)
    problem(api(w, "GET", "/trash", params={"all": "1"}), 403)
    # an admin's own trash, and everybody's with all=1; an admin may restore anyone's
    mine = s.api("GET", "/trash").json()["items"]
    assert not set(everything) & {i["id"] for i in mine}
    every = s.api("GET", "/trash", params={"all": "1", "limit": "1000"}).json()["items"]
    assert set(everything) <= {i["id"] for i in every}
    f = put(w, w["lab"]["id"], "admin-restores.txt", b"a")
    assert api(w, "DELETE", f"/files/{f['id']}").status_code == 204
    every = s.api("GET", "/trash", params={"all": "1", "limit": "1000"}).json()["items"]
    assert [i["owner"]["username"] for i in every if i["id"] == f["id"]] == ["alice"]
    r = s.api("POST", f"/files/{f['id']}/restore")
    assert r.status_code == 200 and r.json()["id"] == f["id"], r.text


def test_the_sweep_purges_what_is_past_its_days(fresh):
    s = fresh(env={"CARBOY_TRASH_DAYS": "1", "CARBOY_ORPHAN_GRACE": "0"})
    f = s.api("POST", "/folders", json={"name": "box"}).json()
    gone = s.put(f["id"], "gone.txt", b"purged for good")
    kept = s.put(f["id"], "kept.txt", b"still in the trash")
    live = s.put(f["id"], "live.txt", b"shared bytes")
    twin = s.put(f["id"], "twin.txt", b"shared bytes")  # the same blob as a live file
    old = s.api("POST", "/folders", json={"name": "old"}).json()
    inside = s.put(old["id"], "inside.txt", b"in an old folder")
    for x in (gone, kept, live, twin, inside):
        wait_file(s, x["id"])
    for x in (gone, kept, twin):
        assert s.api("DELETE", f"/files/{x['id']}").status_code == 204
    assert s.api("DELETE", f"/folders/{old['id']}").status_code == 204
    assert s.stop() == 0
    # gone, twin and the old folder (with its file) were deleted two days ago; kept was
    # deleted by a carboy that dropped a deleted file's search rows
    two_days = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 2 * 86400))
    with sqlite3.connect(os.path.join(s.data, "carboy.db")) as db:
        db.execute("DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE file_id = ?)", (kept["id"],))
        db.execute("DELETE FROM search_docs WHERE file_id = ?", (kept["id"],))
        db.execute("UPDATE files SET deleted_at = ? WHERE id IN (?, ?, ?)", (two_days, gone["id"], twin["id"], inside["id"]))
        db.execute("UPDATE folders SET deleted_at = ? WHERE id = ?", (two_days, old["id"]))
    db.close()
    s.start()  # a grace of 0 sweeps once, at start
    assert "purged 3 files and 1 folders" in s.log_text()
    blobs = blob_files(s.data)
    assert gone["sha256"] not in blobs and inside["sha256"] not in blobs
    assert kept["sha256"] in blobs and live["sha256"] in blobs  # in the trash, and still referenced
    assert {i["id"] for i in s.api("GET", "/trash").json()["items"]} == {kept["id"]}
    for x in (gone, twin):
        problem(s.api("POST", f"/files/{x['id']}/restore"), 404)
    problem(s.api("POST", f"/folders/{old['id']}/restore"), 404)
    with sqlite3.connect(os.path.join(s.data, "carboy.db")) as db:
        assert db.execute("SELECT count(*) FROM files WHERE id IN (?, ?, ?)", (gone["id"], twin["id"], inside["id"])).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM folders WHERE id = ?", (old["id"],)).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM file_versions WHERE file_id = ?", (gone["id"],)).fetchone() == (0,)
    db.close()
    assert s.api("GET", f"/files/{live['id']}/content").content == b"shared bytes"
    assert s.api("POST", f"/files/{kept['id']}/restore").status_code == 200
    assert s.api("GET", f"/files/{kept['id']}/content").content == b"still in the trash"
    # found by name at once, by its text once its ingest, queued again, has run
    assert [h["file_id"] for h in s.api("GET", "/search", params={"q": "kept"}).json()["hits"]] == [kept["id"]]
    deadline = time.time() + 60
    while kept["id"] not in [h["file_id"] for h in s.api("GET", "/search", params={"q": "still"}).json()["hits"]]:
        assert time.time() < deadline, "the restored file's text was not indexed again"
        time.sleep(0.1)


def test_a_purged_blob_leaves_a_store_migration(fresh):
    """A blob the purge frees is no longer one a `carboy migrate` has to copy: its bytes go
    in the same sweep, and a copy that could not read them would fail run after run."""
    s = fresh(env={"CARBOY_TRASH_DAYS": "1", "CARBOY_ORPHAN_GRACE": "0"})
    f = s.api("POST", "/folders", json={"name": "m"}).json()
    gone = s.put(f["id"], "gone.txt", b"purged while a migration runs")
    live = s.put(f["id"], "live.txt", b"still here while a migration runs")
    for x in (gone, live):
        wait_file(s, x["id"])
    assert s.api("DELETE", f"/files/{gone['id']}").status_code == 204
    assert s.stop() == 0
    two_days = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 2 * 86400))
    with sqlite3.connect(os.path.join(s.data, "carboy.db")) as db:
        db.execute("UPDATE files SET deleted_at = ? WHERE id = ?", (two_days, gone["id"]))
        db.execute("INSERT INTO store_migrations(id, source, target, started_at) VALUES (7, 'file:///a', 'file:///b', ?)",
                   (two_days,))
        db.execute("INSERT INTO migration_blobs(migration_id, sha256, size) SELECT 7, sha256, size FROM blobs")
    db.close()
    s.start()
    assert "purged 1 files" in s.log_text()
    with sqlite3.connect(os.path.join(s.data, "carboy.db")) as db:
        left = {r[0] for r in db.execute("SELECT sha256 FROM migration_blobs WHERE migration_id = 7")}
    db.close()
    assert gone["sha256"] not in left and live["sha256"] in left
