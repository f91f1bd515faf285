"""Every create answer shows what a later GET shows (POST /users once answered
"created_at": ""): users, groups, tokens, webhooks, folders, files, grants and share links,
each compared member by member with the list or object a GET returns afterwards, and its
created_at with the test's own clock."""
import datetime

import pytest
from conftest import make_server, finish


PW = "password-" + "c" * 8


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = make_server(tmp_path_factory, env={"CARBOY_WEBHOOK_ALLOW": "127.0.0.1"})
    yield s
    finish(s)


def created(r):
    assert r.status_code == 201, r.text
    return r.json()


def same_as_later(answer, later, skip=()):
    """Every member of the create answer (but those skipped: a secret shown once, what
    processing changes) is the GET's, and created_at is a real time of now."""
    shown = {k: v for k, v in answer.items() if k not in skip}
    assert shown == {k: later[k] for k in shown}, (shown, later)
    at = datetime.datetime.fromisoformat(answer["created_at"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - at).total_seconds()) < 120, answer["created_at"]


def listed(s, path, key, ident, token=None):
    body = s.api("GET", path, token=token).json()
    return next(x for x in body[key] if x["id"] == ident)


def test_users_groups_and_tokens(srv):
    s = srv
    u = created(s.api("POST", "/users", json={"username": "created-at", "password": PW}))
    assert u["created_at"]
    same_as_later(u, listed(s, "/users?limit=1000", "users", u["id"]))
    g = created(s.api("POST", "/groups", json={"name": "created-lab"}))
    same_as_later(g, listed(s, "/groups", "groups", g["id"]))
    session = s.login("created-at", PW)
    r = session.post(s.url + "/api/v1/tokens", json={"name": "ci", "scope": "read", "expires_in_days": 30})
    t = created(r)
    later = next(x for x in session.get(s.url + "/api/v1/tokens").json()["tokens"] if x["id"] == t["id"])
    same_as_later(t, later, skip=("token",))


def test_webhooks_folders_files_grants_and_links(srv):
    s = srv
    w = created(s.api("POST", "/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["file.processed"],
                                                     "secret": "a-webhook-secret-0123456789"}))
    same_as_later(w, listed(s, "/webhooks", "webhooks", w["id"]))
    f = created(s.api("POST", "/folders", json={"name": "created-folder"}))
    later = s.api("GET", f"/folders/{f['id']}").json()
    same_as_later(f, later)
    file = s.put(f["id"], "note.txt", b"created\n")
    # the file is being processed meanwhile: its status, kind and the like move on
    moving = ("status", "updated_at", "kind", "media_type", "artifacts", "properties", "record_count", "versions")
    same_as_later(file, s.api("GET", f"/files/{file['id']}").json(), skip=moving)
    user = s.user("created-grantee", PW)
    grant = created(s.api("POST", f"/folders/{f['id']}/grants", json={"user_id": user["id"], "role": "viewer"}))
    same_as_later(grant, listed(s, f"/folders/{f['id']}/grants", "grants", grant["id"]))
    link = created(s.api("POST", f"/folders/{f['id']}/links", json={}))
    same_as_later(link, listed(s, f"/folders/{f['id']}/links", "links", link["id"]), skip=("token", "url"))
