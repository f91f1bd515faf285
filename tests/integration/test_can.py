"""`can`: the caller's rights on each folder and file the API returns. For every kind of
caller (owner, editor and viewer by grant, admin, read-only token, anonymous on a public
folder, a share link) the rights shown must be the truth: each right shown is then
granted by the API, each right not shown is refused."""
import pytest
import requests

from conftest import make_server, finish

PW = "can-password-1"
ALL = ["read", "write", "share", "delete"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    s = make_server(tmp_path_factory)
    users = {n: s.user(n, PW) for n in ("alice", "bob", "carol")}
    tok = {n: s.make_token(n, PW) for n in users}
    tok["read"] = s.make_token("alice", PW, scope="read")
    tok["admin"] = s.token
    alice = tok["alice"]
    api = lambda m, p, t=alice, **kw: s.api(m, p, token=t, **kw)
    lab = api("POST", "/folders", json={"name": "lab"}).json()
    pub = api("POST", "/folders", json={"name": "pub"}).json()
    assert api("PUT", f"/folders/{pub['id']}/visibility", json={"visibility": "public"}).status_code == 200
    for who, role in (("bob", "editor"), ("carol", "viewer")):
        r = api("POST", f"/folders/{lab['id']}/grants", json={"username": who, "role": role})
        assert r.status_code == 201, r.text
    link = api("POST", f"/folders/{lab['id']}/links", json={}).json()["token"]
    # carol views the folder but edits one file in it: the listing must tell them apart
    special = s.put(lab["id"], "carol-edits.txt", b"c", headers={"Authorization": f"Bearer {alice}"})
    r = api("POST", f"/files/{special['id']}/grants", json={"username": "carol", "role": "editor"})
    assert r.status_code == 201, r.text
    yield {"s": s, "tok": tok, "lab": lab, "pub": pub, "link": link, "special": special, "api": api}
    finish(s)


# actor -> (token or None for the share link, the folder they use, the rights they must have)
ACTORS = {
    "owner": ("alice", "lab", ALL),
    "editor": ("bob", "lab", ALL),
    "viewer": ("carol", "lab", ["read"]),
    "admin": ("admin", "lab", ALL),
    "read_token": ("read", "lab", ["read"]),
    "anonymous": ("", "pub", ["read"]),
    "link": (None, "lab", ["read"]),
}


def attempt(w, actor, kind, obj_id, right):
    """Tries the action `right` on the object as actor; True when the API allowed it."""
    s, (t, _, _) = w["s"], ACTORS[actor]
    token = w["tok"].get(t, "") if t else ""
    api = lambda m, p, **kw: s.api(m, p, token=token, **kw)
    plural = kind + "s"
    if right == "read":
        if actor == "link":
            r = requests.get(f"{s.url}/s/{w['link']}/{plural}/{obj_id}", timeout=30)
        else:
            r = api("GET", f"/{plural}/{obj_id}")
        return r.status_code == 200
    if actor == "link":
        return False  # a link has no route that changes anything
    if right == "write":
        if kind == "file":
            r = api("PATCH", f"/files/{obj_id}", json={"metadata": {"by": actor}})
        else:
            r = api("POST", "/folders", json={"name": f"sub-by-{actor}", "parent_id": obj_id})
        ok = r.status_code in (200, 201)
    elif right == "share":
        vis = w["api"]("GET", f"/{plural}/{obj_id}").json()["visibility"]  # set it to what it is
        r = api("PUT", f"/{plural}/{obj_id}/visibility", json={"visibility": vis})
        ok = r.status_code == 200
    else:
        r = api("DELETE", f"/{plural}/{obj_id}")
        ok = r.status_code == 204
    if not ok:  # a refusal is a problem, and says what the rules say
        assert r.status_code in (401, 403, 404), r.text
        assert r.headers["Content-Type"].startswith("application/problem+json")
    return ok


@pytest.mark.parametrize("actor", list(ACTORS))
def test_can_is_the_truth(world, actor):
    w, s = world, world["s"]
    t, where, want = ACTORS[actor]
    folder = w[where]
    alice = {"Authorization": f"Bearer {w['tok']['alice']}"}
    # objects of this actor's own, so that deleting one leaves the others' alone
    sub = w["api"]("POST", "/folders", json={"name": f"for-{actor}", "parent_id": folder["id"]}).json()
    f = s.put(folder["id"], f"for-{actor}.txt", b"data", headers=alice)
    if actor == "link":
        get = lambda p: requests.get(f"{s.url}/s/{w['link']}{p}", timeout=30)
    else:
        get = lambda p: s.api("GET", p, token=w["tok"].get(t, ""))
    # the folder itself, its listing, and each object on its own
    body = get(f"/folders/{folder['id']}").json()
    assert body["can"] == want, body
    listed = {x["id"]: x["can"] for x in body["folders"] + body["files"]}
    assert listed[sub["id"]] == want and listed[f["id"]] == want, listed
    assert get(f"/folders/{sub['id']}").json()["can"] == want
    assert get(f"/files/{f['id']}").json()["can"] == want
    # and each right is what the API does
    for kind, oid in (("file", f["id"]), ("folder", sub["id"])):
        for right in ALL:
            assert attempt(w, actor, kind, oid, right) == (right in want), (actor, kind, right)


def test_a_grant_on_one_file_shows_in_the_listing(world):
    w = world
    body = w["s"].api("GET", f"/folders/{w['lab']['id']}", token=w["tok"]["carol"]).json()
    cans = {x["name"]: x["can"] for x in body["files"]}
    assert cans["carol-edits.txt"] == ALL
    assert body["can"] == ["read"]
    assert attempt(w, "viewer", "file", w["special"]["id"], "write")


def test_can_in_lists_and_answers(world):
    w, s = world, world["s"]
    bob = w["tok"]["bob"]
    # the folder list: an owner's own and a folder granted to them
    roots = {x["name"]: x["can"] for x in s.api("GET", "/folders", token=w["tok"]["carol"]).json()["folders"]}
    assert roots["lab"] == ["read"]
    roots = {x["name"]: x["can"] for x in s.api("GET", "/folders", token=bob).json()["folders"]}
    assert roots["lab"] == ALL
    shared = s.api("GET", "/folders", token=w["tok"]["carol"]).json()["shared_files"]
    assert [x["can"] for x in shared if x["name"] == "carol-edits.txt"] == [ALL]
    # answers of changes carry it too: create, upload, patch
    made = s.api("POST", "/folders", json={"name": "bobs"}, token=bob)
    assert made.status_code == 201 and made.json()["can"] == ALL
    up = s.api("PUT", f"/folders/{w['lab']['id']}/files/by-bob.txt", data=b"b", token=bob)
    assert up.status_code == 201 and up.json()["can"] == ALL
    r = s.api("PATCH", f"/files/{up.json()['id']}", json={"name": "by-bob-2.txt"}, token=bob)
    assert r.status_code == 200 and r.json()["can"] == ALL
    files = {"file": ("multi.txt", b"m")}
    r = s.api("POST", f"/folders/{made.json()['id']}/files", files=files, token=bob)
    assert r.status_code == 201 and r.json()["files"][0]["can"] == ALL
    # a share link's root view
    body = requests.get(f"{s.url}/s/{w['link']}", timeout=30).json()
    assert body["can"] == ["read"] and all(x["can"] == ["read"] for x in body["files"])
