"""Large molecules (issue 18): a protein is summarised (chains, residues, sequences, formula)
at ingest and previewed as a summary card at once, never laid out by Open Babel; a
depiction that failed is remembered for that version and answered without a new job;
concurrent requests for the same missing depiction share one depict job.

References are independent of carboy: the PDB file's own ATOM/HETATM and SEQRES records,
parsed here, and obabel."""
import collections
import gzip
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import all_records, problem, upload, wait_file, wait_job

PDB = "/usr/share/doc/python-biopython-doc/Tests/PDB/"
BIG = PDB + "2XHE.pdb.gz"  # the UNC18-syntaxin complex: 2 chains, 787 residues modelled, 6315 heavy atoms
SMALL = PDB + "1A8O.pdb.gz"  # the HIV capsid C-terminal domain: 1 chain of 70 residues, 644 heavy atoms
MODIFIED = PDB + "2n0n_M1.pdb.gz"  # a 12-residue peptide with modified residues (AIB: MODRES; PH8)
BZR = "/usr/share/RDKit/Projects/DbCLI/testData/bzr.smi"
SVG = "{http://www.w3.org/2000/svg}"

# one-letter codes (IUPAC-IUB), selenomethionine as methionine, and nucleotides
ONE_LETTER = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G", "HIS": "H",
    "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S", "THR": "T", "TRP": "W",
    "TYR": "Y", "VAL": "V", "SEC": "U", "PYL": "O", "MSE": "M",
    "A": "A", "C": "C", "G": "G", "U": "U", "T": "T", "DA": "A", "DC": "C", "DG": "G", "DT": "T", "DU": "U",
}


def pdb_reference(text):
    """The first model of a PDB file as its records say: each chain's residues (in order,
    one per residue number and insertion code), its SEQRES sequence, and the heavy atoms."""
    atoms = collections.OrderedDict()  # (chain, number + insertion code) -> (name, atom names)
    seqres = collections.OrderedDict()
    heavy = 0
    for line in text.splitlines():
        if line.startswith("ENDMDL"):
            break
        if line.startswith("SEQRES"):
            seqres.setdefault(line[11], []).extend(line[19:].split())
        if line.startswith(("ATOM  ", "HETATM")):
            element = line[76:78].strip() or line[12:14].strip()
            heavy += element not in ("H", "D")
            atoms.setdefault((line[21], line[22:27]), (line[17:20].strip(), set()))[1].add(line[12:16].strip())
    # the standard residues by their code; any other with an amino acid's backbone (N, CA,
    # C) is a modified one, X as in SEQRES; water, ions and ligands are in no sequence
    chains = collections.OrderedDict()
    for (chain, _), (name, names) in atoms.items():
        letter = ONE_LETTER.get(name) or ("X" if {"N", "CA", "C"} <= names else None)
        if letter:
            chains[chain] = chains.get(chain, "") + letter
    return chains, {c: "".join(ONE_LETTER.get(n, "X") for n in names) for c, names in seqres.items()}, heavy


def is_subsequence(short, long):
    it = iter(long)
    return all(ch in it for ch in short)


def obabel(args):
    return subprocess.run(["obabel", *args], capture_output=True, text=True, timeout=300).stdout


def props(rec):
    return {p["name"]: p["value"] for p in rec["properties"]}


def card_text(r):
    """The lines of a summary card, after checking it is a complete SVG document."""
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)  # well-formed, or this raises
    assert root.tag == SVG + "svg"
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


def card_chains(lines):
    """Chain id -> (residues, sequence) as the card shows them."""
    out, current = {}, None
    for line in lines:
        if line.startswith("Chain "):
            cid, rest = line[len("Chain "):].split(": ")
            current = cid
            out[cid] = [int(rest.split()[0]), ""]
        elif current and set(line) <= set("ACDEFGHIKLMNOPQRSTUVWXY "):
            out[current][1] += line.replace(" ", "")
    return {c: tuple(v) for c, v in out.items()}


def depict_jobs(s, record_id):
    """The depict jobs of a record, as the admin's job list shows them (helper jobs: on request)."""
    out, cursor = [], None
    while True:
        body = s.api("GET", "/jobs?helpers=true&limit=1000" + (f"&cursor={cursor}" if cursor else "")).json()
        out += [j for j in body["jobs"] if j["type"] == "depict" and j["params"].get("record_id") == record_id]
        cursor = body["next_cursor"]
        if not cursor:
            return out


def ungz(tmp_path, gz):
    path = tmp_path / gz.rsplit("/", 1)[1][:-3]
    text = gzip.open(gz, "rt").read()
    path.write_text(text)
    return path, text


def one_molecule(s, folder, name, text):
    meta = wait_file(s, s.put(folder, name, text.encode())["id"])
    assert meta["status"] == "processed", meta
    (rec,) = all_records(s, meta["id"])
    return meta, rec


@pytest.fixture(scope="module")
def proteins(srv, tmp_path_factory):
    """Both proteins, uploaded once to the module's server: name -> (file, record, path, text)."""
    tmp = tmp_path_factory.mktemp("pdb")
    f = srv.folder("proteins")
    out = {}
    for gz in (BIG, SMALL, MODIFIED):
        path, text = ungz(tmp, gz)
        meta = wait_file(srv, upload(srv, f["id"], str(path))["id"], timeout=300)
        assert meta["status"] == "processed" and meta["kind"] == "structure", meta
        (rec,) = all_records(srv, meta["id"])
        out[gz] = (meta, rec, path, text)
    return out


@pytest.mark.parametrize("gz", [BIG, SMALL, MODIFIED])
def test_chains_residues_and_sequences_match_the_pdb_file(srv, proteins, gz):
    meta, rec, path, text = proteins[gz]
    chains, seqres, heavy = pdb_reference(text)
    p = props(rec)
    assert p["chains"] == ",".join(chains)
    assert p["chain_count"] == len(chains)
    assert p["residue_count"] == sum(len(s) for s in chains.values())
    for cid, seq in chains.items():
        assert p[f"chain_{cid}_residues"] == len(seq)
        assert p[f"chain_{cid}_sequence"] == seq
        assert is_subsequence(seq, seqres[cid])  # the modelled residues, in SEQRES order
    if gz == SMALL:  # every residue of 1A8O is modelled: its sequence is the SEQRES one
        assert p["chain_A_sequence"] == seqres["A"]
    if gz == MODIFIED:  # AIB (2) and PH8 (11) are X, as in SEQRES; the NH2 cap is no residue
        assert p["chain_A_sequence"] == seqres["A"][:11] and p["chain_A_sequence"].count("X") == 2
    assert p["heavy_atoms"] == heavy
    formula = obabel(["-ipdb", str(path), "-otxt", "--append", "formula"]).split()[-1]
    assert p["formula"] == formula
    # the file carries what its one record says, for search
    assert props(meta)["chain_A_sequence"] == chains["A"]


def test_protein_preview_is_a_summary_card_and_queues_no_job(srv, proteins):
    meta, rec, path, text = proteins[BIG]
    chains, _, heavy = pdb_reference(text)
    r = srv.api("GET", f"/files/{meta['id']}/preview", timeout=60)
    lines = card_text(r)
    assert card_chains(lines) == {c: (len(s), s) for c, s in chains.items()}
    formula = obabel(["-ipdb", str(path), "-otxt", "--append", "formula"]).split()[-1]
    assert f"Formula: {formula}" in lines
    assert any(line.startswith(f"{heavy} heavy atoms") for line in lines)
    # the record's depiction is the same card, and a second request answers the same
    d = srv.api("GET", f"/records/{rec['id']}/depiction", timeout=60)
    assert d.status_code == 200 and d.content == r.content
    again = srv.api("GET", f"/files/{meta['id']}/preview", timeout=60)
    assert again.content == r.content
    assert srv.api("GET", f"/files/{meta['id']}/preview", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    assert depict_jobs(srv, rec["id"]) == []  # made by the server from the summary: no job, ever


def test_one_line_smiles_is_drawn_while_a_protein_is_previewed(srv, proteins):
    meta, rec, _, _ = proteins[BIG]
    answers = []

    def preview():
        for _ in range(3):
            answers.append(srv.api("GET", f"/files/{meta['id']}/preview", timeout=120))

    threads = [threading.Thread(target=preview) for _ in range(3)]
    for t in threads:
        t.start()
    line = open(BZR).readline()
    f = srv.folder("one-line")
    smi, srec = one_molecule(srv, f["id"], "one.smi", line)
    d = srv.api("GET", f"/records/{srec['id']}/depiction", timeout=120)
    for t in threads:
        t.join(120)
    assert d.status_code == 200 and d.headers["Content-Type"].startswith("image/svg+xml"), d.text
    root = ET.fromstring(d.content)
    assert root.tag == SVG + "svg" and not any("heavy atoms" in "".join(t.itertext()) for t in root.iter(SVG + "text"))
    (job,) = depict_jobs(srv, srec["id"])
    assert job["state"] == "succeeded"
    assert len(answers) == 9 and all(a.status_code == 200 for a in answers)
    assert all(a.content == answers[0].content for a in answers)
    assert depict_jobs(srv, rec["id"]) == []  # nothing of the protein's was queued ahead of it


def test_concurrent_requests_share_one_depict_job(fresh):
    s = fresh(env={"CARBOY_WORKERS": "1"})
    f = s.folder("share")
    line = open(BZR).readlines()[1]
    _, rec = one_molecule(s, f["id"], "alprazolam.smi", line)
    # the only batch worker is busy; the drawing, interactive work, is made beside it
    blocker = s.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 3000}}).json()
    deadline = time.time() + 30
    while s.api("GET", f"/jobs/{blocker['id']}").json()["state"] == "queued" and time.time() < deadline:
        time.sleep(0.05)
    answers = [None] * 4

    def get(i):
        answers[i] = s.api("GET", f"/records/{rec['id']}/depiction", timeout=120)

    threads = [threading.Thread(target=get, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert all(a.content == answers[0].content for a in answers)
    ET.fromstring(answers[0].content)
    (job,) = depict_jobs(s, rec["id"])
    assert job["state"] == "succeeded"
    assert s.api("GET", f"/records/{rec['id']}/depiction").content == answers[0].content
    assert len(depict_jobs(s, rec["id"])) == 1
    assert wait_job(s, blocker["id"])["state"] == "succeeded"


def test_failed_depiction_is_remembered(fresh, tmp_path):
    # drawn (the limit is raised), 1A8O's 644 atoms take Open Babel minutes to lay out: the
    # converter is stopped at the job timeout, the way 1tii's drawing failed
    s = fresh(env={"CARBOY_DEPICT_MAX_ATOMS": "100000", "CARBOY_JOB_TIMEOUT": "10"})
    path, _ = ungz(tmp_path, SMALL)
    meta = wait_file(s, upload(s, s.folder("fail")["id"], str(path))["id"])
    assert meta["status"] == "processed", meta
    (rec,) = all_records(s, meta["id"])
    answers = [None] * 2

    def get(i):
        answers[i] = s.api("GET", f"/records/{rec['id']}/depiction", timeout=120)

    threads = [threading.Thread(target=get, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    first = [problem(a, 422) for a in answers]
    assert "within 10 s" in first[0]["detail"] and first[1]["detail"] == first[0]["detail"]
    (job,) = depict_jobs(s, rec["id"])
    assert job["state"] == "failed"
    # later requests, for the record or the file's preview, answer the reason without a job
    again = problem(s.api("GET", f"/records/{rec['id']}/depiction"), 422)
    assert again["detail"] == first[0]["detail"]
    assert problem(s.api("GET", f"/files/{meta['id']}/preview"), 422)["detail"] == first[0]["detail"]
    assert len(depict_jobs(s, rec["id"])) == 1
    # and the rest works: a small molecule is drawn
    _, small = one_molecule(s, s.folder("ok")["id"], "one.smi", open(BZR).readline())
    assert s.api("GET", f"/records/{small['id']}/depiction", timeout=60).status_code == 200
    assert requests.get(s.url + "/healthz", timeout=10).status_code == 200


def test_size_limit_applies_to_molecules_and_reactions(fresh):
    s = fresh(env={"CARBOY_DEPICT_MAX_ATOMS": "10"})
    f = s.folder("limit")
    first, second = [line.split()[0] for line in open(BZR).readlines()[:2]]
    atoms = int(obabel(["-:" + first, "-otxt", "--append", "atoms"]).split()[-1])
    assert atoms > 10
    # a molecule: the server's card, at once; its title escaped into well-formed XML
    title = '<Adinazolam> & "friends"'
    _, rec = one_molecule(s, f["id"], "adinazolam.smi", f"{first} {title}\n")
    lines = card_text(s.api("GET", f"/records/{rec['id']}/depiction", timeout=60))
    assert lines[0] == title and lines[1].startswith(f"{atoms} heavy atoms") and "(the limit is 10)" in lines[1]
    assert depict_jobs(s, rec["id"]) == []
    # a reaction (no heavy_atoms of its own): the depict job checks the size before drawing
    both = int(obabel(["-:" + first + "." + second, "-otxt", "--append", "atoms"]).split()[-1])
    _, rxn = one_molecule(s, f["id"], "step.rsmi", f"{first}>>{second}\n")
    lines = card_text(s.api("GET", f"/records/{rxn['id']}/depiction", timeout=60))
    assert lines[0] == "A reaction" and lines[1].startswith(f"{both} heavy atoms")
    (job,) = depict_jobs(s, rxn["id"])
    assert job["state"] == "succeeded"
