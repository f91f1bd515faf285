#!/usr/bin/env python3
"""Adds up the JUnit XML files of every suite in a folder and prints one line per suite
and, last, 'N passed, N failed'. Steps that failed before producing results (a build)
count as failures. Exits 1 when anything failed."""
import os
import sys
import xml.etree.ElementTree as ET


def main(folder):
    passed = failed = skipped = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".xml"):
            continue
        root = ET.parse(os.path.join(folder, name)).getroot()
        p = f = s = 0
        for case in root.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                f += 1
            elif case.find("skipped") is not None:
                s += 1
            else:
                p += 1
        print(f"  {name[:-4]}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
        passed, failed, skipped = passed + p, failed + f, skipped + s
    steps = os.path.join(folder, "failed-steps")
    if os.path.exists(steps):
        for line in open(steps):
            print(f"  step failed: {line.strip()}")
            failed += 1
    if passed + failed == 0:
        print("no tests ran")
        failed = 1
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build-results"))
