#!/usr/bin/env python3
"""The tests' external inputs: every file, folder and command the test suites read from
Debian's packages, listed in tests/inputs.txt with the package that ships it.

  test-inputs.py check      one line per missing input, naming its package; exit 1 if any
                            (scripts/test.sh runs this before it builds anything)
  test-inputs.py unlisted   the /usr/... paths named in tests/ that tests/inputs.txt does
                            not cover; exit 1 if any (a test keeps the list complete)
  test-inputs.py record FILE
                            adds the paths in FILE (one per line, as written by a test run
                            with CARBOY_RECORD_INPUTS=FILE) to tests/inputs.txt, each with
                            the package dpkg says ships it

tests/inputs.txt: one input per line, 'PATH PACKAGE', 'command:NAME PACKAGE',
'python:MODULE PACKAGE' or 'npm:FILE FOLDER'; a PATH ending in '/' is a folder.
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.environ.get("CARBOY_TEST_INPUTS", os.path.join(ROOT, "tests", "inputs.txt"))
# where a test's source names an external path; the project's own paths are not inputs
SOURCES = ("tests", "bench")
LITERAL = re.compile(r"""["'](/usr/(?:share|lib|libexec)/[^"'\s*]+)["']""")


def load():
    entries = []
    with open(MANIFEST) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                sys.exit(f"{MANIFEST}:{n}: expected 'PATH PACKAGE', got {line!r}")
            entries.append((parts[0], parts[1]))
    return entries


def check():
    missing = []
    for what, pkg in load():
        kind, _, name = what.partition(":") if what.startswith(("command:", "python:", "npm:")) else ("", "", what)
        if kind == "command":
            ok = shutil.which(name) is not None
        elif kind == "python":
            ok = importlib.util.find_spec(name) is not None
        elif kind == "npm":
            ok = os.path.isfile(os.path.join(ROOT, name))
        elif name.endswith("/"):
            ok = os.path.isdir(name)
        else:
            ok = os.path.isfile(name)
        if not ok:
            missing.append((kind, name, pkg))
    apt = set()
    for kind, name, pkg in missing:
        what = {"command": "program ", "python": "Python module ", "npm": ""}.get(kind, "") + name
        if kind == "npm":
            print(f"carboy: missing test input {what} (npm ci in {pkg}: scripts/install-deps.sh)")
        elif installed(pkg):
            print(f"carboy: missing test input {what}: package {pkg} is installed but lacks it "
                  "(a dpkg path-exclude, as in slim container images?)")
        else:
            print(f"carboy: missing test input {what} (package {pkg})")
            apt.add(pkg)
    if missing:
        print(f"carboy: {len(missing)} test inputs missing" +
              (f"; install with: apt-get install {' '.join(sorted(apt))}" if apt else ""))
        return 1
    return 0


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def named_paths():
    """{path: first source file naming it} for every external path literal in SOURCES."""
    found = {}
    for top in SOURCES:
        for dirpath, dirnames, files in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d not in ("node_modules", "corpus", "__pycache__")]
            for name in files:
                if not name.endswith((".py", ".mjs", ".js", ".sh")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, errors="replace") as f:
                    for line in f:
                        if "not test inputs" in line:  # a line that names paths to skip
                            continue
                        for m in LITERAL.finditer(line):
                            found.setdefault(m.group(1), os.path.relpath(path, ROOT))
    return found


def unlisted():
    listed = [p for p, _ in load() if p.startswith("/")]
    listed_set = set(listed) | {p.rstrip("/") for p in listed}
    bad = []
    for path, where in sorted(named_paths().items()):
        if path in listed_set:
            continue
        # a folder the tests join names to: covered when entries lie below it
        prefix = path.rstrip("/") + "/"
        if any(p.startswith(prefix) for p in listed):
            continue
        bad.append((path, where))
    for path, where in bad:
        print(f"{where}: {path} is not in tests/inputs.txt")
    return 1 if bad else 0


def package_of(path):
    out = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
    if out.returncode != 0:
        # merged /usr: dpkg may know the file under /lib
        alt = path.replace("/usr/lib/", "/lib/", 1)
        out = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return out.stdout.split(":", 1)[0].split(",")[0].strip()


def record(recorded):
    entries = load()
    have = {p for p, _ in entries}
    added = 0
    with open(recorded) as f:
        paths = sorted({line.strip() for line in f if line.strip()})
    lines = []
    for path in paths:
        if path in have or not os.path.exists(path):
            continue
        if os.path.isdir(path):
            path = path.rstrip("/") + "/"
            if path in have:
                continue
        pkg = package_of(path.rstrip("/"))
        if not pkg:
            print(f"no package ships {path}; not added", file=sys.stderr)
            continue
        lines.append(f"{path} {pkg}")
        added += 1
    if lines:
        with open(MANIFEST, "a") as f:
            f.write("\n".join(lines) + "\n")
    print(f"{added} inputs added to tests/inputs.txt")
    return 0


def main(argv):
    if len(argv) >= 1 and argv[0] == "check":
        return check()
    if len(argv) >= 1 and argv[0] == "unlisted":
        return unlisted()
    if len(argv) == 2 and argv[0] == "record":
        return record(argv[1])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
