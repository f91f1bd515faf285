"""Folders: create, list, get with path and children, rename, move, delete; request
validation (400 naming the field, 413, 415)."""
import requests

from conftest import problem


def test_create_get_and_path(server):
    a = server.folder("alpha")
    assert a["name"] == "alpha" and a["parent_id"] is None and a["visibility"] == "private"
    b = server.folder("beta", a["id"])
    c = server.folder("gamma", b["id"])
    r = server.api("GET", f"/folders/{c['id']}")
    assert r.status_code == 200
    body = r.json()
    assert [p["name"] for p in body["path"]] == ["alpha", "beta", "gamma"]
    assert body["owner"]["username"] == "admin"
    r = server.api("GET", f"/folders/{a['id']}")
    assert [f["name"] for f in r.json()["folders"]] == ["beta"]


def test_top_level_listing(server):
    server.folder("listed-1")
    names = [f["name"] for f in server.api("GET", "/folders?limit=1000").json()["folders"]]
    assert "listed-1" in names and "beta" not in names


def test_pagination_over_folders_and_files(server):
    top = server.folder("paged")
    for i in range(5):
        server.folder(f"sub{i}", top["id"])
    for i in range(4):
        server.put(top["id"], f"file{i}.txt", f"content {i}".encode())
    seen, cursor, pages = [], None, 0
    while True:
        q = f"/folders/{top['id']}?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = server.api("GET", q).json()
        seen += [("d", f["name"]) for f in body["folders"]] + [("f", f["name"]) for f in body["files"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [("d", f"sub{i}") for i in range(5)] + [("f", f"file{i}.txt") for i in range(4)]
    assert pages == 3
    problem(server.api("GET", f"/folders/{top['id']}?cursor=!!!"), 400)
    problem(server.api("GET", f"/folders/{top['id']}?limit=0"), 400)
    problem(server.api("GET", f"/folders/{top['id']}?limit=abc"), 400)


def test_rename_move_and_conflicts(server):
    p = server.folder("parent")
    x = server.folder("x", p["id"])
    y = server.folder("y", p["id"])
    r = server.api("PATCH", f"/folders/{x['id']}", json={"name": "x2"})
    assert r.status_code == 200 and r.json()["name"] == "x2"
    body = problem(server.api("PATCH", f"/folders/{x['id']}", json={"name": "y"}), 409)
    assert body["field"] == "name"
    # move x2 under y, then try to move y under its own child
    r = server.api("PATCH", f"/folders/{x['id']}", json={"parent_id": y["id"]})
    assert r.status_code == 200 and r.json()["parent_id"] == y["id"]
    problem(server.api("PATCH", f"/folders/{y['id']}", json={"parent_id": x["id"]}), 409)
    problem(server.api("PATCH", f"/folders/{y['id']}", json={"parent_id": y["id"]}), 409)
    # to the top level
    r = server.api("PATCH", f"/folders/{x['id']}", json={"parent_id": None})
    assert r.status_code == 200 and r.json()["parent_id"] is None
    problem(server.api("POST", "/folders", json={"name": "y", "parent_id": p["id"]}), 409)


def test_delete_is_recursive_and_soft(server):
    top = server.folder("doomed")
    sub = server.folder("sub", top["id"])
    f = server.put(sub["id"], "inside.txt", b"bye")
    r = server.api("DELETE", f"/folders/{top['id']}")
    assert r.status_code == 204
    problem(server.api("GET", f"/folders/{top['id']}"), 404)
    problem(server.api("GET", f"/folders/{sub['id']}"), 404)
    problem(server.api("GET", f"/files/{f['id']}"), 404)
    problem(server.api("DELETE", f"/folders/{top['id']}"), 404)
    # the name is free again
    server.folder("doomed")


def test_validation_errors(server):
    body = problem(server.api("POST", "/folders", json={"name": 5}), 400)
    assert body["field"] == "name"
    body = problem(server.api("POST", "/folders", json={}), 400)
    assert body["field"] == "name"
    for bad in ["", ".", "..", "a/b", "a\\b", "tab\there", "x" * 300]:
        body = problem(server.api("POST", "/folders", json={"name": bad}), 400)
        assert body["field"] == "name", bad
    body = problem(server.api("POST", "/folders", json={"name": "ok", "parent_id": 7}), 400)
    assert body["field"] == "parent_id"
    problem(server.api("POST", "/folders", data="{not json", headers={"Content-Type": "application/json"}), 400)
    problem(server.api("POST", "/folders", data="[1,2]", headers={"Content-Type": "application/json"}), 400)
    problem(server.api("POST", "/folders", data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    problem(server.api("POST", "/folders", data=b"{" + b" " * (2 << 20) + b"}",
                       headers={"Content-Type": "application/json"}), 413)
    problem(server.api("POST", "/folders", json={"name": "orphan", "parent_id": "0" * 24}), 404)
    problem(server.api("GET", "/folders/../../etc/passwd"), 404)
    problem(server.api("GET", "/folders/%2e%2e%2fetc"), 404)
    # still serving
    assert requests.get(server.url + "/healthz").status_code == 200
