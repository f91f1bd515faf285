"""The README's promises to a new user: it is short and leads into docs/ by links that all
resolve, the quick tour runs as pasted against a real server, the run command installs what
running needs and not the test tools, every external test input is listed with its package
(and a missing one is named in one line), and the test command's summary counts each failure
once."""
import glob
import gzip
import os
import re
import subprocess
import unicodedata
import zipfile

from conftest import ADMIN_PASSWORD, ROOT

README = os.path.join(ROOT, "README.md")
PY = "/usr/bin/python3"


DOCS = ("ARCHITECTURE.md", "CONFIGURATION.md", "API.md", "OPERATIONS.md", "UI.md", "SECURITY.md",
        "TESTING.md", "RELIABILITY.md", "BENCHMARKS.md", "CHANGELOG.md")


def test_readme_is_short_and_leads_into_docs():
    text = open(README).read()
    assert len(text.splitlines()) <= 300, len(text.splitlines())
    # the two commands of a fresh machine, and the tour
    assert "bash scripts/run.sh " in text and "bash scripts/test.sh " in text and "## Quick tour" in text
    for name in DOCS:
        assert f"](docs/{name})" in text, name


def slug(heading):
    """The anchor GitHub gives a heading (github-slugger): inline markup dropped, lower case,
    punctuation and symbols removed, spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path):
    seen, out, fence = {}, set(), False
    for line in open(path):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"^#{1,6} +(.*?) *#* *$", line.rstrip("\n"))
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


def relative_links(path):
    """(line number, target) of every relative link and image outside code."""
    fence = False
    for no, line in enumerate(open(path), 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        line = re.sub(r"`[^`]*`", "code", line)
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # not http:, https:, mailto:
                yield no, target


def test_every_relative_link_in_the_readme_and_docs_resolves():
    files = [README] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    assert len(files) >= 9
    checked, broken = 0, []
    for path in files:
        for no, target in relative_links(path):
            checked += 1
            where = f"{os.path.relpath(path, ROOT)}:{no}: {target}"
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                broken.append(where + " (no such file)")
            elif anchor and not (dest.endswith(".md") and anchor in anchors(dest)):
                broken.append(where + " (no such heading)")
    assert checked > 50, checked
    assert not broken, "\n".join(broken)


def test_the_link_check_sees_broken_links(tmp_path):
    assert slug("Where a newcomer adds …") == "where-a-newcomer-adds-"
    assert slug("Converter confinement (`src/util/confine.c`)") == "converter-confinement-srcutilconfinec"
    assert slug("0.9.0 — unreleased (issues 15 and 16)") == "090--unreleased-issues-15-and-16"
    doc = tmp_path / "a.md"
    doc.write_text("# A\n\n## Two words\n\n[ok](#two-words) [bad](#three) [gone](missing.md)\n"
                   "```\n[in code](nowhere.md)\n```\n`[inline](nowhere.md)` [web](https://example.org/x)\n")
    assert anchors(str(doc)) == {"a", "two-words"}
    assert [t for _, t in relative_links(str(doc))] == ["#two-words", "#three", "missing.md"]


def tour_block():
    text = open(README).read()
    section = text[text.index("## Quick tour"):]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_quick_tour_runs_as_pasted(fresh, tmp_path):
    s = fresh()
    block = tour_block()
    # the only lines a reader changes: the password scripts/run.sh printed, the address
    assert re.search(r"^P='[^']*'$", block, re.M) and re.search(r"^B=http://127\.0\.0\.1:8080/api/v1$", block, re.M)
    assert "jq" not in block.split()
    block = re.sub(r"^P=.*$", f"P='{ADMIN_PASSWORD}'", block, flags=re.M)
    block = re.sub(r"^B=.*$", f"B={s.url}/api/v1", block, flags=re.M)
    # every file the tour uploads ships in the repository
    for path in re.findall(r"(docs/examples/[\w.-]+)", block):
        assert os.path.isfile(os.path.join(ROOT, path)), path
    os.symlink(os.path.join(ROOT, "docs"), tmp_path / "docs")  # the clone's folder, as the tour says
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert out[0] == "image" and out[1] == "aspirin.png"
    assert "BSYNRYMUTXBXSQ-UHFFFAOYSA-N" in out  # aspirin's InChIKey, from its record
    assert "InChI=1S/C9H8O4/c1-6(10)13-8-5-3-2-4-7(8)9(11)12/h2-5H,1H3,(H,11,12)" in out
    assert "aspirin" in out  # the substructure hit's title
    assert "aspiri" in out  # the 206 range
    assert out[-1].startswith("/s/")  # a share link
    assert zipfile.ZipFile(tmp_path / "lab.zip").namelist()  # the folder as a zip
    assert (tmp_path / "copy.sdf").read_bytes() == open(os.path.join(ROOT, "docs/examples/aspirin.sdf"), "rb").read()


def install_lists():
    text = open(os.path.join(ROOT, "scripts", "install-deps.sh")).read()
    lists = {}
    for name, body in re.findall(r"^(\w+)=\(\n(.*?)^\)", text, re.S | re.M):
        lists[name] = {w for line in body.splitlines() if not line.strip().startswith("#") for w in line.split()}
    return text, lists


def test_run_command_installs_no_test_tools():
    text, lists = install_lists()
    run_sh = open(os.path.join(ROOT, "scripts", "run.sh")).read()
    assert "install-deps.sh run\n" in run_sh
    assert re.search(r"^\s*run\) pkgs=\(\"\$\{runtime\[@\]\}\" \"\$\{build\[@\]\}\"\) ;;$", text, re.M)
    for tool in ("chromium", "clang", "nginx-light", "awscli", "wrk", "python3-pytest", "gtk-4-tests", "rdkit-data"):
        assert tool not in lists["runtime"] | lists["build"], tool
        assert tool in lists["test"] | lists["bench"], tool
    # the benchmarks' baselines are not in the test install either (nginx would be enabled)
    assert "nginx-light" not in lists["test"] and "awscli" not in lists["test"]


def test_every_external_input_of_the_tests_is_listed_with_its_package():
    r = subprocess.run([PY, "scripts/test-inputs.py", "unlisted"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([PY, "scripts/test-inputs.py", "check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    # each listed package is one the install script installs (or base-files, always there)
    _, lists = install_lists()
    every = set().union(*lists.values()) | {"base-files", "libc-bin", "nodejs"}
    for line in open(os.path.join(ROOT, "tests", "inputs.txt")):
        line = line.split("#", 1)[0].split()
        if line and not line[0].startswith("npm:"):
            assert line[1] in every, line


def test_a_missing_test_input_is_one_line_naming_its_package(tmp_path):
    manifest = tmp_path / "inputs.txt"
    manifest.write_text("/usr/share/RDKit/Data/NCI/first_200.props.sdf rdkit-data\n"
                        "/usr/share/carboy-test/nothing-here.png carboy-missing-package\n"
                        "command:carboy-no-such-program carboy-missing-package\n"
                        "python:carboy_no_such_module carboy-missing-module\n")
    r = subprocess.run([PY, "scripts/test-inputs.py", "check"], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "CARBOY_TEST_INPUTS": str(manifest)})
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 4, r.stdout
    assert lines[0] == "carboy: missing test input /usr/share/carboy-test/nothing-here.png (package carboy-missing-package)"
    assert "program carboy-no-such-program" in lines[1] and "Python module carboy_no_such_module" in lines[2]
    assert lines[3].endswith("apt-get install carboy-missing-module carboy-missing-package")
    assert "Traceback" not in r.stdout + r.stderr


def junit(path, cases):
    body = "".join(f'<testcase classname="c" name="{n}">{"<" + s + "/>" if s else ""}</testcase>' for n, s in cases)
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite>{body}</testsuite></testsuites>')


def summarize(folder):
    r = subprocess.run([PY, "scripts/summarize.py", str(folder)], cwd=ROOT, capture_output=True, text=True)
    return r.returncode, r.stdout.splitlines()[-1]


def test_summary_counts_each_failure_once(tmp_path):
    # pytest writes a test that fails and whose teardown errors as two entries: one failure
    junit(tmp_path / "integration-normal.xml", [("a", ""), ("b", "failure"), ("b", "error"), ("c", "skipped")])
    junit(tmp_path / "fuzz.xml", [("f1", ""), ("f2", "")])
    (tmp_path / "failed-steps").write_text("integration\tintegration-normal.xml\n")
    assert summarize(tmp_path) == (1, "3 passed, 1 failed, 1 skipped")
    # a step that failed with no failed case to show for it (a build; a runner that never
    # started, leaving no report) counts once
    (tmp_path / "failed-steps").write_text("integration\tintegration-normal.xml\nbuild\nbrowser\tbrowser.xml\n")
    assert summarize(tmp_path) == (1, "3 passed, 3 failed, 1 skipped")
    # all passed: exit 0
    os.unlink(tmp_path / "failed-steps")
    junit(tmp_path / "integration-normal.xml", [("a", ""), ("b", "")])
    assert summarize(tmp_path) == (0, "4 passed, 0 failed")


MIME = "/usr/share/gocode/src/github.com/gabriel-vasile/mimetype/testdata"


def readme_kinds():
    """The README's "What carboy reads" table: kind -> the formats of its "Converts to"
    column (before any ';' or parenthesis: what `convert?to=` takes without options)."""
    text = open(README).read().split("## What carboy reads", 1)[1].split("\n## ", 1)[0]
    kinds = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`(\w+)`", cells[0]) if len(cells) == 5 else None
        if m:
            targets = re.split(r"[;(]", cells[4])[0]
            kinds[m.group(1)] = {t.strip() for t in targets.split(",") if re.fullmatch(r"\w+", t.strip())}
    return kinds


def test_readme_kinds_convert_as_the_server_converts(srv):
    """One file of each kind the table names: its kind is the one claimed, and the formats
    the table says it converts to are the ones the server takes (a 400 names them)."""
    from conftest import wait_file

    kinds = readme_kinds()
    assert set(kinds) == {"structure", "reaction", "crystal", "table", "pdf", "office", "image", "archive",
                          "text", "model", "other"}, kinds
    ex = os.path.join(ROOT, "docs", "examples")
    samples = {
        "structure": ("aspirin.sdf", open(os.path.join(ex, "aspirin.sdf"), "rb").read()),
        "reaction": ("esterification.rsmi", b"CCO.CC(=O)O>>CCOC(C)=O esterification\n"),
        "crystal": ("Al.cif", open("/usr/share/doc/cif2hkl/examples/Al.cif", "rb").read()),
        "table": ("samples.csv", open(os.path.join(ex, "samples.csv"), "rb").read()),
        "pdf": ("libtasn1.pdf", open("/usr/share/doc/libtasn1-doc/libtasn1.pdf", "rb").read()),
        "office": ("docx.docx", open(os.path.join(MIME, "docx.docx"), "rb").read()),
        "image": ("aspirin.png", open(os.path.join(ex, "aspirin.png"), "rb").read()),
        "text": ("notes.txt", b"Melting point measured twice, 135 C.\n"),
        "archive": ("GPL-3.gz", gzip.compress(open("/usr/share/common-licenses/GPL-3", "rb").read())),
        "other": ("noise.bin", bytes(range(256)) * 64),
        # a k-nearest-neighbours model's bundle (the fuzz target's seed, past its first byte)
        "model": ("knn.carboy-model.json",
                  open(os.path.join(ROOT, "tests", "fuzz", "corpus", "convert_model", "seed-knn"), "rb").read()[1:]),
    }
    folder = srv.folder("readme-kinds")["id"]
    for kind, (name, data) in samples.items():
        meta = wait_file(srv, srv.put(folder, name, data)["id"])
        assert meta["status"] == "processed" and meta["kind"] == kind, (kind, meta["kind"], meta.get("error"))
        r = srv.api("GET", f"/files/{meta['id']}/convert", params={"to": "no-such-format"})
        assert r.status_code == 400, (kind, r.status_code, r.text)
        said = r.json()["detail"].split("convert to: ", 1)[1]
        server = set() if said == "nothing yet" else set(said.split(","))
        assert kinds[kind] == server, (kind, kinds[kind], server)
