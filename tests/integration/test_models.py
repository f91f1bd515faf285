"""Models trained on deposited structures (issue 20), through the real server: training on
public QSAR data from Debian's rdkit-data (the benzodiazepine receptor set bzr.sdf, 163
ligands with a measured ACTIVITY; ChEMBL series CHEMBL2321810, 1017 compounds with pIC50),
reports, reproducibility, predictions for SMILES and for files, bad inputs, access rules,
and a bundle carried to another server."""
import csv
import io
import time

import pytest

from conftest import make_server, finish, wait_file, wait_job

PASSWORD = "password-" + "x" * 8
BZR = "/usr/share/RDKit/Projects/DbCLI/testData/bzr.sdf"
CHEMBL_SMI = "/usr/share/RDKit/Contrib/FreeWilson/data/CHEMBL2321810.smi"
CHEMBL_ACT = "/usr/share/RDKit/Contrib/FreeWilson/data/CHEMBL2321810_act.csv"


def chembl_csv(rows=None):
    """The ChEMBL series as one table: smiles, id, pIC50 (joined by id)."""
    act = {}
    with open(CHEMBL_ACT) as f:
        for row in csv.DictReader(f):
            act[row["Name"]] = row["Act"]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["compound_id", "SMILES", "pIC50"])
    with open(CHEMBL_SMI) as f:
        for i, line in enumerate(f):
            if rows is not None and i >= rows:
                break
            smi, cid = line.split()
            w.writerow([cid, smi, act[cid]])
    return out.getvalue().encode()


def bzr_bytes():
    with open(BZR, "rb") as f:
        return f.read()


def wait_model(s, mid, tok=None, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = s.api("GET", f"/models/{mid}", token=tok)
        assert r.status_code == 200, r.text
        m = r.json()
        if m["state"] != "training":
            return m
        time.sleep(0.2)
    raise AssertionError(f"model {mid} still training")


def train(s, folder, file_id, name, tok=None, **spec):
    body = {"name": name, "folder_id": folder, "training_file_id": file_id, **spec}
    r = s.api("POST", "/models", json=body, token=tok)
    assert r.status_code == 202, r.text
    m = r.json()
    assert m["state"] == "training" and m["job_id"]
    assert r.headers["Location"] == f"/api/v1/models/{m['id']}"
    return wait_model(s, m["id"], tok)


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    srv = make_server(tmp_path_factory)
    yield srv
    finish(srv)


@pytest.fixture(scope="module")
def data(s):
    folder = s.folder("models")["id"]
    bzr = s.put(folder, "bzr.sdf", bzr_bytes())["id"]
    chembl = s.put(folder, "chembl2321810.csv", chembl_csv())["id"]
    wait_file(s, bzr)
    wait_file(s, chembl)
    return {"folder": folder, "bzr": bzr, "chembl": chembl}


@pytest.fixture(scope="module")
def bzr_model(s, data):
    return train(s, data["folder"], data["bzr"], "bzr-activity", target="ACTIVITY")


def test_regression_report(s, data, bzr_model):
    m = bzr_model
    assert m["state"] == "ready", m
    assert m["task"] == "regression" and m["method"] == "xgboost" and m["target"] == "ACTIVITY"
    assert m["features"] == {"fingerprint": "ecfp4", "bits": 2048, "descriptors": []}
    assert m["training_size"] == 163
    cv = m["metrics"]["cv"]
    assert set(cv) >= {"r2", "rmse", "mae", "spearman", "n"} and cv["n"] == 163
    # the series is learnable: a fingerprint model ranks the ligands far better than chance
    assert cv["spearman"] > 0.4 and cv["r2"] > 0.1 and 0 < cv["rmse"] < 2
    pairs = m["curves"]["observed_predicted"]
    assert 100 <= len(pairs) <= 200 and all(len(p) == 2 for p in pairs)
    app = m["applicability"]
    assert app["fingerprint"] == "ecfp4" and 0 < app["threshold"] < 1
    assert m["file_id"] and m["version"] == 1


def test_the_model_is_a_file_of_its_folder(s, data, bzr_model):
    f = s.api("GET", f"/files/{bzr_model['file_id']}").json()
    assert f["folder_id"] == data["folder"] and f["name"] == "bzr-activity.carboy-model.json"
    f = wait_file(s, f["id"])
    assert f["status"] == "processed" and f["kind"] == "model", f
    props = {p["name"]: p["value"] for p in f["properties"]}
    assert props["method"] == "xgboost" and props["target"] == "ACTIVITY" and props["training_size"] == 163
    assert abs(props["cv_r2"] - bzr_model["metrics"]["cv"]["r2"]) < 1e-9
    # found by name and by its properties
    hits = s.api("GET", "/search?q=bzr-activity").json()["hits"]
    assert any(h.get("file_id", h.get("id")) == f["id"] for h in hits), hits
    hits = s.api("GET", "/search?where=method:eq:xgboost").json()["hits"]
    assert any(h.get("file_id", h.get("id")) == f["id"] for h in hits), hits
    listed = s.api("GET", f"/models?folder_id={data['folder']}").json()["models"]
    assert bzr_model["id"] in [x["id"] for x in listed]


def test_same_seed_same_model_other_seed_other_folds(s, data, bzr_model):
    again = train(s, data["folder"], data["bzr"], "bzr-again", target="ACTIVITY")
    assert again["metrics"] == bzr_model["metrics"]
    other = train(s, data["folder"], data["bzr"], "bzr-seed7", target="ACTIVITY", validation={"seed": 7})
    assert other["metrics"]["cv"] != bzr_model["metrics"]["cv"]
    # the same model predicts the same
    body = {"smiles": ["c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1", "CCO"]}
    a = s.api("POST", f"/models/{bzr_model['id']}/predict", json=body).json()["predictions"]
    b = s.api("POST", f"/models/{again['id']}/predict", json=body).json()["predictions"]
    assert [p["value"] for p in a] == [p["value"] for p in b]


def test_classification_by_threshold_from_a_table(s, data):
    m = train(s, data["folder"], data["chembl"], "chembl-active", target="pIC50", threshold=6.0,
              method="random_forest", validation={"folds": 5, "test_fraction": 0.2, "seed": 3})
    assert m["state"] == "ready", m
    assert m["task"] == "classification" and m["method"] == "random_forest"
    assert m["classes"] == [0, 1] and m["threshold"] == 6.0
    cv, test = m["metrics"]["cv"], m["metrics"]["test"]
    for k in ("auc", "accuracy", "balanced_accuracy", "f1", "mcc", "precision", "recall", "confusion"):
        assert k in cv and k in test, k
    c = cv["confusion"]
    assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == cv["n"] == m["training_size"]
    assert m["training_size"] + m["test_size"] == 1017
    assert cv["auc"] > 0.75 and test["auc"] > 0.7
    roc = m["curves"]["roc"]
    assert roc[0] == [0, 0] and roc[-1] == [1, 1]
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(roc, roc[1:]))
    assert m["curves"]["pr"]


@pytest.mark.parametrize("method", ["svm", "logistic_regression", "knn", "naive_bayes", "xgboost"])
def test_every_method_classifies(s, data, method):
    m = train(s, data["folder"], data["bzr"], f"bzr-{method}", target="ACTIVITY", threshold=7.0, method=method,
              features={"fingerprint": "ecfp4", "bits": 1024})
    assert m["state"] == "ready", m
    assert m["metrics"]["cv"]["auc"] > 0.6, (method, m["metrics"])
    r = s.api("POST", f"/models/{m['id']}/predict", json={"smiles": ["c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1"]})
    assert r.status_code == 200, r.text
    p = r.json()["predictions"][0]
    assert p["value"] in (0, 1) and 0 <= p["probability"] <= 1


@pytest.mark.parametrize("features,width", [
    ({"fingerprint": "maccs"}, 256), ({"fingerprint": "fp3"}, 64), ({"fingerprint": "fp4"}, 512),
    ({"fingerprint": "fp2"}, 1024), ({"fingerprint": "ecfp6", "bits": 4096}, 4096),
    ({"fingerprint": "ecfp0", "bits": 1024, "descriptors": ["logP"]}, 1024),
])
def test_every_fingerprint(s, data, features, width):
    """Each fingerprint trains and predicts; a model's features, as its report states them,
    are what it was asked for (a fingerprint of its own width says that width)."""
    name = "bzr-fp-" + features["fingerprint"] + str(width)
    m = train(s, data["folder"], data["bzr"], name, target="ACTIVITY", method="knn", features=features)
    assert m["state"] == "ready", m
    assert m["features"]["fingerprint"] == features["fingerprint"] and m["features"]["bits"] == width
    assert m["features"]["descriptors"] == features.get("descriptors", [])
    r = s.api("POST", f"/models/{m['id']}/predict", json={"smiles": ["c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1"]})
    assert r.status_code == 200 and "value" in r.json()["predictions"][0], r.text
    # the report's own features train the same model again
    again = train(s, data["folder"], data["bzr"], name + "-again", target="ACTIVITY", method="knn",
                  features=m["features"])
    assert again["state"] == "ready" and again["metrics"] == m["metrics"], again


def test_descriptors_only(s, data):
    m = train(s, data["folder"], data["bzr"], "bzr-descriptors", target="ACTIVITY", method="svm",
              features={"fingerprint": None, "descriptors": ["logP", "TPSA", "MW", "HBD"]})
    assert m["state"] == "ready", m
    assert m["features"] == {"fingerprint": None, "descriptors": ["logP", "TPSA", "MW", "HBD"]}
    assert m["applicability"]["fingerprint"] == "ecfp4"


def test_predict_smiles(s, bzr_model):
    known = "c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1"  # diazepam's scaffold
    r = s.api("POST", f"/models/{bzr_model['id']}/predict", json={"smiles": [known, "CCCCCCCCCC", "C1CC(", ""]})
    assert r.status_code == 200, r.text
    p = r.json()["predictions"]
    assert len(p) == 4 and p[0]["smiles"] == known
    assert isinstance(p[0]["value"], float) and 3 < p[0]["value"] < 11
    assert isinstance(p[0]["in_domain"], bool) and 0 <= p[0]["nearest_similarity"] <= 1
    # decane is nothing like a benzodiazepine
    assert p[1]["in_domain"] is False and p[1]["nearest_similarity"] < bzr_model["applicability"]["threshold"]
    assert "error" in p[2] and "value" not in p[2]
    assert "error" in p[3]
    # a training molecule is in its own domain
    with open(BZR) as f:
        first = f.read().split("$$$$")[0]
    r = s.api("POST", f"/models/{bzr_model['id']}/predict", json={"smiles": ["O=C1CN=C(c2ccccc2)c2cc(Cl)ccc2N1C"]})
    assert r.json()["predictions"][0]["nearest_similarity"] > 0 and first


def test_predict_bad_requests(s, bzr_model):
    mid = bzr_model["id"]
    assert s.api("POST", f"/models/{mid}/predict", json={}).status_code == 400
    assert s.api("POST", f"/models/{mid}/predict", json={"smiles": "CCO"}).status_code == 400
    assert s.api("POST", f"/models/{mid}/predict", json={"smiles": [1, 2]}).status_code == 400
    r = s.api("POST", f"/models/{mid}/predict", json={"smiles": ["C"] * 1001})
    assert r.status_code == 413 and "CARBOY_PREDICT_MAX" in r.json()["detail"]
    r = s.api("POST", f"/models/{mid}/predict", json={"smiles": ["C"], "output_folder_id": "x"})
    assert r.status_code == 400 and r.json()["field"] == "output_folder_id"
    r = s.api("POST", f"/models/{mid}/predict", json={"file_id": "x", "sheet": 1e300})
    assert r.status_code == 400 and r.json()["field"] == "sheet"
    r = s.api("POST", "/models/000000000000000000000000/predict", json={"smiles": ["C"]})
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")


def test_predict_a_file(s, data, bzr_model):
    out = s.folder("predictions")["id"]
    r = s.api("POST", f"/models/{bzr_model['id']}/predict", json={"file_id": data["bzr"], "output_folder_id": out})
    assert r.status_code == 202, r.text
    j = wait_job(s, r.json()["id"])
    assert j["state"] == "succeeded", j
    f = s.api("GET", f"/files/{j['outputs'][0]}").json()
    assert f["folder_id"] == out and f["name"] == "bzr.predicted.sdf"
    text = s.api("GET", f"/files/{f['id']}/content").text
    records = [r for r in text.split("$$$$\n") if r.strip()]
    assert len(records) == 163
    assert all("<ACTIVITY_predicted>" in r and "<in_domain>" in r and "<ACTIVITY>" in r for r in records)
    # the same values as asked for one by one
    table = s.put(out, "few.csv", b"name,smiles\nA,c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1\nB,not-a-molecule\n")["id"]
    r = s.api("POST", f"/models/{bzr_model['id']}/predict", json={"file_id": table})
    j = wait_job(s, r.json()["id"])
    assert j["state"] == "succeeded", j
    rows = list(csv.DictReader(io.StringIO(s.api("GET", f"/files/{j['outputs'][0]}/content").text)))
    assert [r["name"] for r in rows] == ["A", "B"]
    one = s.api("POST", f"/models/{bzr_model['id']}/predict",
                json={"smiles": ["c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1"]}).json()["predictions"][0]
    assert abs(float(rows[0]["ACTIVITY_predicted"]) - one["value"]) < 1e-4
    assert rows[1]["ACTIVITY_predicted"] == "" and rows[1]["prediction_error"]
    # a table whose SMILES column has a name of its own
    odd = s.put(out, "odd.csv", b"id,mol_text\nA,c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1\n")["id"]
    r = s.api("POST", f"/models/{bzr_model['id']}/predict", json={"file_id": odd})
    assert wait_job(s, r.json()["id"])["state"] == "failed"
    r = s.api("POST", f"/models/{bzr_model['id']}/predict", json={"file_id": odd, "smiles_column": "mol_text"})
    j = wait_job(s, r.json()["id"])
    assert j["state"] == "succeeded", j
    rows = list(csv.DictReader(io.StringIO(s.api("GET", f"/files/{j['outputs'][0]}/content").text)))
    assert abs(float(rows[0]["ACTIVITY_predicted"]) - one["value"]) < 1e-4


def test_bad_training_inputs(s, data):
    folder = data["folder"]
    text = bzr_bytes().decode()
    recs = [r for r in text.split("$$$$\n") if r.strip()]
    # the target missing from half the records: trained on the rest, the skip reported
    half = "".join(r.replace(">  <ACTIVITY>", ">  <OTHER>") if i % 2 else r for i, r in enumerate(recs)
                   for r in [r + "$$$$\n"])
    fid = s.put(folder, "half.sdf", half.encode())["id"]
    m = train(s, folder, fid, "half", target="ACTIVITY")
    assert m["state"] == "ready", m
    assert m["skipped"]["missing_target"] == 81 and m["training_size"] == 82
    # a constant target
    const = "\n".join(f"{smi} x{i}" for i, smi in enumerate(["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O",
                                                                  "CCOC", "CNC", "OCCO", "CCCCO", "CC#N", "C=CC"]))
    table = "smiles,value\n" + "\n".join(f"{line.split()[0]},5" for line in const.splitlines())
    fid = s.put(folder, "const.csv", table.encode())["id"]
    m = train(s, folder, fid, "const", target="value")
    assert m["state"] == "failed" and "constant" in m["error"], m
    # one class only
    m = train(s, folder, fid, "one-class", target="value", task="classification")
    assert m["state"] == "failed" and "one class" in m["error"], m
    # unreadable SMILES are skipped and counted
    rows = ["smiles,y"] + [f"{'C' * (i + 1)}O,{i}" for i in range(12)] + ["C1CC(,3", "xx,4", ",5"]
    fid = s.put(folder, "bad-smiles.csv", "\n".join(rows).encode())["id"]
    m = train(s, folder, fid, "bad-smiles", target="y", features={"fingerprint": "fp2"})
    assert m["state"] == "ready", m
    assert m["skipped"]["unreadable_structure"] == 3 and m["training_size"] == 12
    # no such target
    m = train(s, folder, data["bzr"], "no-target", target="NOPE")
    assert m["state"] == "failed" and "NOPE" in m["error"], m
    # too few records
    fid = s.put(folder, "tiny.csv", b"smiles,y\nCCO,1\nCCN,2\nCCC,3\n")["id"]
    m = train(s, folder, fid, "tiny", target="y")
    assert m["state"] == "failed" and "at least" in m["error"], m
    # not a structure file or table
    fid = s.put(folder, "notes.txt", b"just words, no molecules here\n")["id"]
    m = train(s, folder, fid, "notes", target="y")
    assert m["state"] == "failed", m


@pytest.mark.parametrize("body,field", [
    ({}, "name"),
    ({"target": "ACTIVITY", "method": "deep_learning"}, "method"),
    ({"target": "ACTIVITY", "task": "regression", "method": "logistic_regression"}, None),
    ({"target": "ACTIVITY", "features": {"fingerprint": "ecfp5"}}, "features"),
    ({"target": "ACTIVITY", "features": {"fingerprint": "maccs", "bits": 2048}}, "features"),
    ({"target": "ACTIVITY", "features": {"fingerprint": "ecfp4", "bits": 1e300}}, "features"),
    ({"target": "ACTIVITY", "features": {"fingerprint": "ecfp4", "bits": 2048.5}}, "features"),
    ({"target": "ACTIVITY", "validation": {"seed": -1}}, "validation"),
    ({"target": "ACTIVITY", "validation": {"folds": 1e300}}, "validation"),
    ({"target": "ACTIVITY", "features": {"descriptors": ["nope"]}}, "features"),
    ({"target": "ACTIVITY", "validation": {"folds": 1}}, "validation"),
    ({"target": "ACTIVITY", "validation": {"test_fraction": 0.9}}, "validation"),
    ({"target": "ACTIVITY", "threshold": "high"}, "threshold"),
    ({"target": "ACTIVITY", "colour": "red"}, "colour"),
])
def test_bad_training_requests(s, data, body, field):
    full = {"name": "bad", "folder_id": data["folder"], "training_file_id": data["bzr"], **body}
    if body == {}:
        full = {"folder_id": data["folder"]}
    r = s.api("POST", "/models", json=full)
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    if field:
        assert field in r.json()["detail"] or r.json().get("field") == field, r.json()


def test_retraining_makes_a_new_version(s, data):
    first = train(s, data["folder"], data["bzr"], "bzr-versions", target="ACTIVITY")
    second = train(s, data["folder"], data["bzr"], "bzr-versions", target="ACTIVITY", method="random_forest")
    assert second["id"] == first["id"] and second["file_id"] == first["file_id"]
    assert second["version"] == 2 and second["method"] == "random_forest"
    f = s.api("GET", f"/files/{first['file_id']}").json()
    assert f["version"] == 2
    old = s.api("GET", f"/files/{first['file_id']}/content?version=1").json()
    new = s.api("GET", f"/files/{first['file_id']}/content").json()
    assert old["method"] == "xgboost" and new["method"] == "random_forest"


def test_access_rules(s, data, bzr_model):
    s.user("ml-stranger")
    stranger = s.make_token("ml-stranger", PASSWORD)
    s.user("ml-viewer")
    viewer = s.make_token("ml-viewer", PASSWORD)
    mid = bzr_model["id"]
    # a stranger sees nothing: 404, and the list holds nothing of it
    assert s.api("GET", f"/models/{mid}", token=stranger).status_code == 404
    assert s.api("POST", f"/models/{mid}/predict", json={"smiles": ["C"]}, token=stranger).status_code == 404
    assert s.api("GET", "/models", token=stranger).json()["models"] == []
    r = s.api("POST", "/models", token=stranger, json={"name": "x", "folder_id": data["folder"],
                                                       "training_file_id": data["bzr"], "target": "ACTIVITY"})
    assert r.status_code == 404
    # anonymous: nothing either
    assert s.api("GET", f"/models/{mid}", token="").status_code in (401, 404)
    # a viewer of the folder reads and predicts, but trains nothing there
    r = s.api("POST", f"/folders/{data['folder']}/grants", json={"username": "ml-viewer", "role": "viewer"})
    assert r.status_code in (200, 201), r.text
    assert s.api("GET", f"/models/{mid}", token=viewer).status_code == 200
    assert mid in [m["id"] for m in s.api("GET", "/models", token=viewer).json()["models"]]
    r = s.api("POST", f"/models/{mid}/predict", json={"smiles": ["CCO"]}, token=viewer)
    assert r.status_code == 200, r.text
    r = s.api("POST", "/models", token=viewer, json={"name": "bzr-activity", "folder_id": data["folder"],
                                                     "training_file_id": data["bzr"], "target": "ACTIVITY"})
    assert r.status_code == 403, r.text


def test_training_is_a_listed_batch_job(s, data, bzr_model):
    j = s.api("GET", f"/jobs/{bzr_model['job_id']}").json()
    assert j["type"] == "train" and j["state"] == "succeeded" and j["outputs"] == [bzr_model["file_id"]]
    assert bzr_model["job_id"] in [x["id"] for x in s.api("GET", "/jobs?limit=1000").json()["jobs"]]
    # and not one a user starts through /jobs
    r = s.api("POST", "/jobs", json={"type": "train", "inputs": [data["bzr"]]})
    assert r.status_code == 400


def test_bundle_moves_to_another_server(s, data, bzr_model, tmp_path_factory):
    bundle = s.api("GET", f"/files/{bzr_model['file_id']}/content").content
    assert bundle.startswith(b'{"carboy_model":1')
    other = make_server(tmp_path_factory)
    try:
        folder = other.folder("imported")["id"]
        f = wait_file(other, other.put(folder, "bzr.carboy-model.json", bundle)["id"])
        assert f["kind"] == "model" and f["status"] == "processed", f
        models = other.api("GET", f"/models?folder_id={folder}").json()["models"]
        assert len(models) == 1 and models[0]["state"] == "ready" and models[0]["name"] == "bzr"
        assert models[0]["metrics"] == bzr_model["metrics"]
        body = {"smiles": ["c1ccc2c(c1)C(=NCC(=O)N2)c1ccccc1", "CCOc1ccccc1", "Clc1ccccc1"]}
        here = s.api("POST", f"/models/{bzr_model['id']}/predict", json=body).json()["predictions"]
        there = other.api("POST", f"/models/{models[0]['id']}/predict", json=body).json()["predictions"]
        assert here == there
        # a damaged bundle fails its own ingest, with a reason
        bad = bundle.replace(b'"model":"', b'"model":"garbage', 1)
        f = wait_file(other, other.put(folder, "broken.carboy-model.json", bad)["id"])
        assert f["status"] == "failed" and "model" in f["error"], f
    finally:
        finish(other)


def test_cancel_a_training(s, data):
    big = s.put(data["folder"], "chembl-big.csv", chembl_csv())["id"]
    wait_file(s, big)
    r = s.api("POST", "/models", json={"name": "to-cancel", "folder_id": data["folder"], "training_file_id": big,
                                       "target": "pIC50", "method": "svm",
                                       "validation": {"folds": 10}})
    assert r.status_code == 202
    m = r.json()
    assert s.api("POST", f"/jobs/{m['job_id']}/cancel").status_code in (200, 202)
    m = wait_model(s, m["id"])
    assert m["state"] == "failed" and "cancel" in m["error"], m
    # the name is free to train again at once
    again = train(s, data["folder"], data["bzr"], "to-cancel", target="ACTIVITY")
    assert again["id"] == m["id"] and again["state"] == "ready", again


def test_a_model_deleted_while_it_trains(s, data):
    """Its training fails for good (it is never run again), and nothing of it is listed."""
    folder = s.folder("doomed")["id"]
    big = s.put(folder, "chembl.csv", chembl_csv())["id"]
    wait_file(s, big)
    r = s.api("POST", "/models", json={"name": "doomed", "folder_id": folder, "training_file_id": big,
                                       "target": "pIC50", "method": "random_forest"})
    assert r.status_code == 202
    m = r.json()
    deadline = time.time() + 60
    while s.api("GET", f"/jobs/{m['job_id']}").json()["state"] == "queued" and time.time() < deadline:
        time.sleep(0.05)
    assert s.api("DELETE", f"/folders/{folder}").status_code in (200, 204)
    j = wait_job(s, m["job_id"])
    assert j["state"] == "failed" and "deleted" in j["error"] and j["attempts"] == 1, j
    assert s.api("GET", f"/models/{m['id']}").status_code == 404
    assert m["id"] not in [x["id"] for x in s.api("GET", "/models?limit=1000").json()["models"]]
