"""The records table's order and filter (GET /api/v1/files/{id}/records?sort&order&q, issue
21) through the real server, on rdkit-data's NCI first_200.props.sdf (200 molecules, SD
fields on all of them and P1 on 30). The expected orders come from the SD file's own text,
read here record by record: AMW (a number), ISM (text), P1 (absent from most records: those
come last in both directions); ties go by the record's place in the file. Pages put
together are the whole sorted list, each record once; the filter keeps what holds the text
in its title, SMILES, InChIKey or a text property, case folded; bad parameters are 400
problems naming them, and a file the caller may not see stays 404."""
import pytest
from conftest import ingest, problem, all_records

NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"


def sd_fields():
    """[{field: text}] per record of the SD file, in file order."""
    with open(NCI) as fh:
        blocks = fh.read().split("$$$$\n")
    out = []
    for block in blocks:
        if not block.strip():
            continue
        lines = block.split("\n")
        fields = {}
        for i, line in enumerate(lines):
            if line.startswith(">") and "<" in line:
                fields[line.split("<", 1)[1].split(">", 1)[0]] = lines[i + 1].strip()
        out.append(fields)
    return out


def pages(s, file_id, limit, **params):
    """Every page of the sorted listing put together, and the totals each page gave."""
    out, totals, cursor = [], set(), None
    for _ in range(1000):
        q = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        r = s.api("GET", f"/files/{file_id}/records", params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["records"]) <= limit
        out += body["records"]
        totals.add(body["total"])
        cursor = body["next_cursor"]
        if not cursor:
            return out, totals
    raise AssertionError("the pages never ended")


@pytest.fixture(scope="module")
def nci(srv):
    f = ingest(srv, srv.folder("records-sort")["id"], NCI, "nci.sdf")
    assert f["status"] == "processed" and f["record_count"] == 200
    return f


def test_sort_by_sd_fields_both_ways_paged(srv, nci):
    fields = sd_fields()
    assert len(fields) == 200
    for key, conv in (("AMW", float), ("ISM", str)):
        want = sorted(range(200), key=lambda i: (conv(fields[i][key]), i))
        got, totals = pages(srv, nci["id"], 7, sort=key)
        assert [r["index"] for r in got] == want, key
        assert totals == {200}
        # descending: the values reversed, ties still in file order
        want_desc = sorted(range(200), key=lambda i: (conv(fields[i][key]), -i), reverse=True)
        got, _ = pages(srv, nci["id"], 50, sort=key, order="desc")
        assert [r["index"] for r in got] == want_desc, key


def test_records_without_the_property_come_last(srv, nci):
    fields = sd_fields()
    having = [i for i in range(200) if "P1" in fields[i]]
    assert len(having) == 30
    rest = [i for i in range(200) if "P1" not in fields[i]]
    for order, rev in (("asc", False), ("desc", True)):
        got, _ = pages(srv, nci["id"], 64, sort="P1", order=order)
        idx = [r["index"] for r in got]
        assert sorted(idx[:30]) == having and idx[30:] == rest, order
        values = [float(fields[i]["P1"]) for i in idx[:30]]
        assert values == sorted(values, reverse=rev)


def test_index_title_and_computed_properties(srv, nci):
    recs = all_records(srv, nci["id"])
    got, _ = pages(srv, nci["id"], 100, sort="index", order="desc")
    assert [r["index"] for r in got] == list(range(199, -1, -1))
    # a property carboy computed: the listing's own values, ties by index
    mw = {r["index"]: next(p["value"] for p in r["properties"] if p["name"] == "molecular_weight") for r in recs}
    got, _ = pages(srv, nci["id"], 100, sort="molecular_weight")
    assert [r["index"] for r in got] == sorted(range(200), key=lambda i: (mw[i], i))
    got, _ = pages(srv, nci["id"], 100, sort="smiles")
    assert [r["smiles"] for r in got] == sorted(r["smiles"] for r in recs)
    # the records come whole, as in the file's order
    first = got[0]
    assert {"id", "file_id", "index", "smiles", "properties"} <= set(first)


def test_filter_keeps_what_holds_the_text(srv, nci):
    recs = all_records(srv, nci["id"])

    def holds(r, q):
        q = q.lower()
        texts = [r.get("title") or "", r.get("smiles") or "", r.get("inchikey") or ""]
        texts += [p["value"] for p in r["properties"] if isinstance(p["value"], str)]
        return any(q in t.lower() for t in texts)

    for q in ("Cl", "br", "N#C", "O=C1C=CC(=O)"):
        want = [r["index"] for r in recs if holds(r, q)]
        assert 0 < len(want) < 200, q
        got, totals = pages(srv, nci["id"], 9, q=q)
        assert [r["index"] for r in got] == want, q
        assert totals == {len(want)}
    # filter and sort together
    fields = sd_fields()
    want = sorted((r["index"] for r in recs if holds(r, "Cl")), key=lambda i: (-float(fields[i]["AMW"]), i))
    got, _ = pages(srv, nci["id"], 10, q="cl", sort="AMW", order="desc")
    assert [r["index"] for r in got] == want
    # nothing found: an empty last page
    body = srv.api("GET", f"/files/{nci['id']}/records", params={"q": "no such text anywhere"}).json()
    assert body == {"records": [], "next_cursor": None, "total": 0}


def test_unsorted_listing_keeps_its_cursor_and_gives_the_total(srv, nci):
    body = srv.api("GET", f"/files/{nci['id']}/records", params={"limit": 5}).json()
    assert [r["index"] for r in body["records"]] == [0, 1, 2, 3, 4]
    assert body["next_cursor"] == "4" and body["total"] == 200


def test_bad_parameters_are_problems(srv, nci):
    url = f"/files/{nci['id']}/records"
    for params, field in (({"order": "up"}, "order"), ({"sort": ""}, "sort"), ({"sort": "x" * 300}, "sort"),
                          ({"q": "y" * 300}, "q"), ({"sort": "AMW", "cursor": "12"}, "cursor"),
                          ({"sort": "AMW", "cursor": "o-1"}, "cursor"), ({"q": "a", "cursor": "ox"}, "cursor")):
        p = problem(srv.api("GET", url, params=params), 400)
        assert p["field"] == field, (params, p)
    # not UTF-8
    assert problem(srv.api("GET", url + "?q=%ff%fe"), 400)["field"] == "q"


def test_someone_else_cannot_sort_or_filter_a_private_file(srv, nci):
    srv.user("mallory-rs", "password-" + "m" * 8)
    tok = srv.make_token("mallory-rs", "password-" + "m" * 8)
    r = srv.api("GET", f"/files/{nci['id']}/records", token=tok, params={"sort": "AMW", "q": "C"})
    problem(r, 404)
    r = srv.api("GET", f"/files/{nci['id']}/records", token="", params={"sort": "AMW"})
    assert r.status_code in (401, 404)
