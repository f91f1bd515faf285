"""The README's promises to a new user: the quick tour runs as pasted against a real server,
the run command installs what running needs and not the test tools, every external test
input is listed with its package (and a missing one is named in one line), and the test
command's summary counts each failure once."""
import os
import re
import subprocess
import zipfile

from conftest import ADMIN_PASSWORD, ROOT

README = os.path.join(ROOT, "README.md")
PY = "/usr/bin/python3"


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
