"""Categories (issue 21): a tree of terms an administrator maintains, assigned to files and
folders by whoever may change them, and search's category= filter (a category's files,
those of the categories below it, and those in folders assigned one), which never shows
what the caller may not see."""
import pytest

from conftest import problem

PW = "categories-pass-1"


@pytest.fixture(scope="module")
def lab(server):
    s = server
    users = {n: s.user(n, PW) for n in ("owner", "editor", "viewer", "outsider")}
    tok = {n: s.make_token(n, PW) for n in users}
    as_ = lambda who, method, path, **kw: s.api(method, path, token=tok[who] if who else "", **kw)
    folder = as_("owner", "POST", "/folders", json={"name": "curated"}).json()
    for who, role in (("editor", "editor"), ("viewer", "viewer")):
        r = as_("owner", "POST", f"/folders/{folder['id']}/grants", json={"user_id": users[who]["id"], "role": role})
        assert r.status_code == 201, r.text
    return {"s": s, "users": users, "as": as_, "folder": folder}


def create(s, name, parent=None, iri=None, status=201):
    body = {"name": name}
    if parent:
        body["parent_id"] = parent
    if iri:
        body["iri"] = iri
    r = s.api("POST", "/categories", json=body)
    assert r.status_code == status, r.text
    return r.json()


def tree(s, token=None):
    r = s.api("GET", "/categories", token=token)
    assert r.status_code == 200, r.text
    return r.json()["categories"]


def test_tree_crud_by_an_admin(lab):
    s = lab["s"]
    root = create(s, "Spectroscopy", iri="http://purl.obolibrary.org/obo/CHMO_0000228")
    assert root["parent_id"] is None and root["path"] == "Spectroscopy" and root["iri"].endswith("CHMO_0000228")
    nmr = create(s, "NMR", root["id"])
    ir = create(s, "IR", root["id"])
    c13 = create(s, "13C", nmr["id"])
    assert c13["path"] == "Spectroscopy / NMR / 13C" and c13["parent_id"] == nmr["id"]
    # names are unique among siblings only
    assert problem(s.api("POST", "/categories", json={"name": "NMR", "parent_id": root["id"]}), 409)["field"] == "name"
    nmr2 = create(s, "NMR", ir["id"])  # the same name elsewhere
    for bad, field in (({}, "name"), ({"name": "a/b"}, "name"), ({"name": 5}, "name"),
                       ({"name": "x", "parent_id": "0" * 24}, "parent_id"), ({"name": "x", "parent_id": "nope"}, "parent_id"),
                       ({"name": "x", "iri": "ftp://x"}, "iri"), ({"name": "x", "iri": "http://a b"}, "iri")):
        assert problem(s.api("POST", "/categories", json=bad), 400)["field"] == field, bad
    # anyone reads the tree, anonymous included; parents come before their children
    listed = tree(s, token="")
    paths = [c["path"] for c in listed]
    assert paths == sorted(paths, key=lambda p: p.split(" / ")) and "Spectroscopy / IR / NMR" in paths
    assert paths.index("Spectroscopy") < paths.index("Spectroscopy / NMR") < paths.index("Spectroscopy / NMR / 13C")
    assert tree(s, token=s.make_token("viewer", PW)) == listed
    # rename, set an IRI, clear it, move
    r = s.api("PATCH", f"/categories/{nmr['id']}", json={"name": "NMR spectroscopy", "iri": "https://example.org/nmr"})
    assert r.status_code == 200 and r.json()["path"] == "Spectroscopy / NMR spectroscopy", r.text
    assert {c["id"]: c["path"] for c in tree(s)}[c13["id"]] == "Spectroscopy / NMR spectroscopy / 13C"
    r = s.api("PATCH", f"/categories/{nmr['id']}", json={"iri": None})
    assert r.json()["iri"] is None and r.json()["name"] == "NMR spectroscopy"
    r = s.api("PATCH", f"/categories/{c13['id']}", json={"parent_id": None})
    assert r.status_code == 200 and r.json()["path"] == "13C" and r.json()["parent_id"] is None
    r = s.api("PATCH", f"/categories/{c13['id']}", json={"parent_id": nmr["id"]})
    assert r.json()["path"] == "Spectroscopy / NMR spectroscopy / 13C"
    # a cycle is refused: into itself, or below itself
    for target in (root["id"], nmr["id"], c13["id"]):
        assert problem(s.api("PATCH", f"/categories/{root['id']}", json={"parent_id": target}), 400)["field"] == "parent_id"
    assert problem(s.api("PATCH", f"/categories/{ir['id']}", json={"name": "NMR spectroscopy"}), 409)["field"] == "name"
    # a rename and a move at once: the name must be free where it goes, not where it was
    create(s, "Raman", ir["id"])
    r = s.api("PATCH", f"/categories/{nmr2['id']}", json={"name": "Raman", "parent_id": root["id"]})
    assert r.status_code == 200 and r.json()["path"] == "Spectroscopy / Raman", r.text
    assert problem(s.api("PATCH", f"/categories/{nmr2['id']}", json={"name": "IR"}), 409)["field"] == "name"
    problem(s.api("PATCH", f"/categories/{'0' * 24}", json={"name": "x"}), 404)
    problem(s.api("PATCH", "/categories/nope", json={"name": "x"}), 404)
    # a category with children is not deleted; a leaf is, with its assignments
    assert "below" in problem(s.api("DELETE", f"/categories/{nmr['id']}"), 409)["detail"]
    assert s.api("DELETE", f"/categories/{c13['id']}").status_code == 204
    problem(s.api("DELETE", f"/categories/{c13['id']}"), 404)
    assert c13["id"] not in {c["id"] for c in tree(s)}


def test_only_admins_change_the_tree(lab):
    s, as_ = lab["s"], lab["as"]
    root = create(s, "Admins only")
    for who in ("owner", "editor", "viewer"):
        assert problem(as_(who, "POST", "/categories", json={"name": "mine"}), 403)
        assert problem(as_(who, "PATCH", f"/categories/{root['id']}", json={"name": "mine"}), 403)
        assert problem(as_(who, "DELETE", f"/categories/{root['id']}"), 403)
    assert problem(as_(None, "POST", "/categories", json={"name": "anon"}), 401)
    assert "mine" not in {c["name"] for c in tree(s)}


def test_assignments_and_the_search_filter(lab):
    s, as_, folder = lab["s"], lab["as"], lab["folder"]
    chem = create(s, "Chemistry")
    org = create(s, "Organic", chem["id"])
    arom = create(s, "Aromatics", org["id"], iri="http://purl.obolibrary.org/obo/CHEBI_33659")
    other = create(s, "Unrelated")
    owner = {"Authorization": "Bearer " + s.make_token("owner", PW)}
    benzene = s.put(folder["id"], "aromatic benzene.txt", b"ring notes", headers=owner)
    plain = s.put(folder["id"], "plain benzene.txt", b"uncategorised", headers=owner)
    sub = as_("owner", "POST", "/folders", json={"name": "organics", "parent_id": folder["id"]}).json()
    deep = s.put(sub["id"], "deep benzene.txt", b"deep down", headers=owner)
    # an editor assigns (repeats count once); the answer is the file with its categories
    r = as_("editor", "PUT", f"/files/{benzene['id']}/categories", json={"category_ids": [arom["id"], arom["id"]]})
    assert r.status_code == 200, r.text
    got = r.json()["categories"]
    assert [(c["id"], c["path"]) for c in got] == [(arom["id"], "Chemistry / Organic / Aromatics")]
    assert got[0]["iri"].endswith("CHEBI_33659")
    assert as_("viewer", "GET", f"/files/{benzene['id']}").json()["categories"] == got
    # a folder's categories, on its own JSON
    r = as_("owner", "PUT", f"/folders/{sub['id']}/categories", json={"category_ids": [org["id"]]})
    assert r.status_code == 200 and [c["path"] for c in r.json()["categories"]] == ["Chemistry / Organic"], r.text
    assert [c["id"] for c in as_("viewer", "GET", f"/folders/{sub['id']}").json()["categories"]] == [org["id"]]
    # a viewer may not; an outsider does not see the file at all; unknown ids are a 400
    problem(as_("viewer", "PUT", f"/files/{plain['id']}/categories", json={"category_ids": [chem["id"]]}), 403)
    problem(as_("viewer", "PUT", f"/folders/{sub['id']}/categories", json={"category_ids": []}), 403)
    problem(as_("outsider", "PUT", f"/files/{plain['id']}/categories", json={"category_ids": [chem["id"]]}), 404)
    problem(as_(None, "PUT", f"/files/{plain['id']}/categories", json={"category_ids": [chem["id"]]}), 404)
    for bad in ({}, {"category_ids": "x"}, {"category_ids": [5]}, {"category_ids": ["0" * 24]},
                {"category_ids": [chem["id"], "nope"]}):
        assert problem(as_("owner", "PUT", f"/files/{plain['id']}/categories", json=bad), 400)["field"] == "category_ids"
    assert as_("owner", "GET", f"/files/{plain['id']}").json()["categories"] == []

    def found(who, query):
        r = as_(who, "GET", "/search?" + query)
        assert r.status_code == 200, r.text
        return {h["file_id"] for h in r.json()["hits"]}

    # the category, its descendants' files, and files in folders assigned one (alone: by name)
    assert found("viewer", f"category={chem['id']}") == {benzene["id"], deep["id"]}
    assert found("viewer", f"category={org['id']}") == {benzene["id"], deep["id"]}
    assert found("viewer", f"category={arom['id']}") == {benzene["id"]}
    assert found("viewer", f"category={other['id']}") == set()
    r = as_("viewer", "GET", f"/search?category={chem['id']}&limit=1")
    assert [h["name"] for h in r.json()["hits"]] == ["aromatic benzene.txt"] and r.json()["next_cursor"]
    r = as_("viewer", "GET", f"/search?category={chem['id']}&limit=1&cursor={r.json()['next_cursor']}")
    assert [h["name"] for h in r.json()["hits"]] == ["deep benzene.txt"]
    # combined with words (in the names: the files' text is not extracted yet) and the other filters
    assert found("viewer", "q=benzene") >= {benzene["id"], plain["id"], deep["id"]}
    assert found("viewer", f"q=benzene&category={chem['id']}") == {benzene["id"], deep["id"]}
    assert found("viewer", f"q=deep&category={arom['id']}") == set()
    assert found("viewer", f"category={chem['id']}&folder_id={sub['id']}") == {deep["id"]}
    r = as_("owner", "PATCH", f"/files/{benzene['id']}", json={"metadata": {"purity": 99.5}})
    assert r.status_code == 200, r.text
    assert found("viewer", f"where=purity:gt:90&category={chem['id']}") == {benzene["id"]}
    assert found("viewer", f"where=purity:gt:90&category={other['id']}") == set()
    # the access filter first: an outsider and anonymous find nothing through the filter
    assert found("outsider", f"category={chem['id']}") == set()
    assert found(None, f"category={chem['id']}") == set()
    assert found("outsider", f"q=benzene&category={chem['id']}") == set()
    # ... until the folder is public
    assert as_("owner", "PUT", f"/folders/{folder['id']}/visibility", json={"visibility": "public"}).status_code == 200
    assert found(None, f"category={chem['id']}") == {benzene["id"], deep["id"]}
    assert as_("owner", "PUT", f"/folders/{folder['id']}/visibility", json={"visibility": "private"}).status_code == 200
    # bad filters
    for q in ("category=nope", f"category={'0' * 24}", "category="):
        assert problem(as_("viewer", "GET", "/search?" + q), 400)["field"] in ("category", "q"), q
    # deleting a category takes its assignments; a deleted file is never found
    assert s.api("DELETE", f"/categories/{arom['id']}").status_code == 204
    assert as_("owner", "GET", f"/files/{benzene['id']}").json()["categories"] == []
    assert found("viewer", f"category={chem['id']}") == {deep["id"]}
    assert as_("owner", "DELETE", f"/files/{deep['id']}").status_code == 204
    assert found("viewer", f"category={chem['id']}") == set()
    # [] removes them all
    r = as_("owner", "PUT", f"/folders/{sub['id']}/categories", json={"category_ids": []})
    assert r.status_code == 200 and r.json()["categories"] == []


def test_schema_units_and_iris_reach_the_properties(lab):
    """The curation form's schemas carry x-unit and x-iri (schemas/json/sample.schema.json);
    metadata that follows a schema gets them on its properties unless it gives its own."""
    s = lab["s"]
    sample = s.api("GET", "/schemas/sample").json()
    assert sample["properties"]["mass"]["x-unit"] == "mg"
    assert sample["properties"]["mass"]["x-iri"].startswith("http://purl.obolibrary.org/obo/")
    f = s.put(lab["folder"]["id"], "sample-a.csv", b"a\n1\n")
    meta = {"$schema": "sample", "sample_id": "AB-7", "operator": "alice", "mass": 12.5, "solvent": "DMSO",
            "temperature": {"value": 300, "unit": "K"}, "note": {"value": 3, "unit": "mL", "iri": "https://example.org/v"}}
    r = s.api("PATCH", f"/files/{f['id']}", json={"metadata": meta})
    assert r.status_code == 200, r.text
    got = {p["name"]: p for p in r.json()["properties"] if p["source"] == "user"}
    assert got["mass"]["value"] == 12.5 and got["mass"]["unit"] == "mg" and got["mass"]["iri"].endswith("PATO_0000125")
    assert got["temperature"]["unit"] == "K" and got["temperature"]["iri"].endswith("PATO_0000146")
    assert got["solvent"]["iri"].endswith("CHEBI_46787") and "unit" not in got["solvent"]
    assert got["note"]["unit"] == "mL" and got["note"]["iri"] == "https://example.org/v"  # its own, not the schema's
    assert "unit" not in got["operator"] and "iri" not in got["operator"]
    # the free-form schema names no property: nothing is added
    r = s.api("PATCH", f"/files/{f['id']}", json={"metadata": {"mass": 12.5}})
    assert [p for p in r.json()["properties"] if p["name"] == "mass"][0].get("unit") is None
    problem(s.api("PATCH", f"/files/{f['id']}", json={"metadata": {"$schema": "sample", "sample_id": "AB-7",
                                                                    "operator": "a", "solvent": "ink"}}), 400)


def test_a_file_shared_alone_does_not_tell_its_folders_categories(lab):
    """A file granted on its own is found by its own categories, never by those of a folder
    the caller cannot see (the filter would tell what the folder is)."""
    s, as_, users = lab["s"], lab["as"], lab["users"]
    secret = create(s, "Secret project")
    mine = create(s, "Shared term")
    hidden = as_("owner", "POST", "/folders", json={"name": "hidden"}).json()
    owner = {"Authorization": "Bearer " + s.make_token("owner", PW)}
    f = s.put(hidden["id"], "alone.txt", b"shared on its own", headers=owner)
    assert as_("owner", "PUT", f"/folders/{hidden['id']}/categories",
               json={"category_ids": [secret["id"]]}).status_code == 200
    assert as_("owner", "PUT", f"/files/{f['id']}/categories", json={"category_ids": [mine["id"]]}).status_code == 200
    r = as_("owner", "POST", f"/files/{f['id']}/grants", json={"user_id": users["outsider"]["id"], "role": "viewer"})
    assert r.status_code == 201, r.text

    def found(who, cat):
        r = as_(who, "GET", f"/search?category={cat}")
        assert r.status_code == 200, r.text
        return {h["file_id"] for h in r.json()["hits"]}

    assert as_("outsider", "GET", f"/files/{f['id']}").status_code == 200
    assert found("outsider", mine["id"]) == {f["id"]}
    assert found("outsider", secret["id"]) == set()
    # the owner (who sees the folder) and an administrator find it both ways
    assert found("owner", secret["id"]) == {f["id"]}
    assert found("owner", mine["id"]) == {f["id"]}
    r = s.api("GET", f"/search?category={secret['id']}")
    assert r.status_code == 200 and f["id"] in {h["file_id"] for h in r.json()["hits"]}, r.text
