"""Inputs the fuzz targets (tests/fuzz) found to misbehave, through the real server: each
once undefined behaviour (UBSan reports in the sanitizer build, garbage values in the
plain one) and now a clear answer. Reaction SMILES files, which crashed their converter,
are tested with the other reactions (test_reactions_crystals.py)."""
import os

from conftest import problem, wait_file, wait_job


def test_token_lifetime_far_out_of_range(srv):
    for days in (1e300, -1e300, 2**31, 3650.5, 0):
        body = problem(srv.api("POST", "/tokens", json={"name": "far", "expires_in_days": days}), 400)
        assert body["field"] == "expires_in_days"
    r = srv.api("POST", "/tokens", json={"name": "ok", "expires_in_days": 3650})
    assert r.status_code == 201 and r.json()["token"]


def test_job_version_far_out_of_range(srv):
    f = srv.folder("fuzz-jobs")
    meta = srv.put(f["id"], "v.txt", b"v")
    for version in (1e300, -1, 0, 1.5, "1"):
        body = problem(srv.api("POST", "/jobs", json={"type": "ingest", "inputs": [meta["id"]],
                                                      "params": {"version": version}}), 400)
        assert body["field"] == "params" and "version" in body["detail"]
    r = srv.api("POST", "/jobs", json={"type": "ingest", "inputs": [meta["id"]], "params": {"version": 1}})
    assert r.status_code == 202, r.text
    assert wait_job(srv, r.json()["id"])["state"] == "succeeded"


def test_search_cursor_far_past_the_end(srv):
    f = srv.folder("fuzz-search")
    srv.put(f["id"], "needle.txt", b"a needle in the haystack")
    for cursor in ("9223372036854775807", "2305843009213693952"):
        r = srv.api("GET", f"/search?q=needle&cursor={cursor}")
        assert r.status_code == 200, r.text
        assert r.json() == {"hits": [], "next_cursor": None}
    problem(srv.api("GET", "/search?q=needle&cursor=-1"), 400)
    hits = srv.api("GET", "/search?q=needle").json()["hits"]
    assert [h["name"] for h in hits] == ["needle.txt"]


def test_crystal_whose_cell_places_atoms_nowhere(srv):
    """A COD CIF mutated by the fuzzer: its cell puts the atoms' images at NaN, which the
    molecular-crystal check cast to a cube index (undefined behaviour). The file is now
    processed or refused with a reason, and the server serves on."""
    path = os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus", "convert_chem", "degenerate-cell.cif")
    f = srv.folder("fuzz-cell")
    with open(path, "rb") as fh:
        meta = wait_file(srv, srv.put(f["id"], "degenerate-cell.cif", fh.read())["id"])
    assert meta["status"] in ("processed", "failed"), meta
    if meta["status"] == "failed":
        assert meta["error"], meta
    assert srv.api("GET", "/me").status_code == 200
