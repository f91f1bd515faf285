#!/usr/bin/env python3
"""Adds up the JUnit XML files of every suite in a folder and prints one line per suite
and, last, 'N passed, N failed'. Exits 1 when anything failed.

Each failure counts once: a test case that appears twice in one file (pytest writes a
second entry when a test fails and its teardown errors too) is one case, failed if either
entry failed. A step that failed (the file 'failed-steps': one line per step, 'NAME' or
'NAME<TAB>RESULT.xml') adds one failure only when it left no failed case of its own to
count: a build that failed, or a suite that exited non-zero without a failed case in its
report or without a report at all."""
import os
import sys
import xml.etree.ElementTree as ET


def cases(path):
    """{(classname, name): state} for one JUnit file; state is passed, failed or skipped."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        if case.find("failure") is not None or case.find("error") is not None:
            state = "failed"
        elif case.find("skipped") is not None:
            state = "skipped"
        else:
            state = "passed"
        prev = out.get(key)
        if prev == "failed" or (prev == "passed" and state == "skipped"):
            continue
        out[key] = state
    return out


def main(folder):
    passed = failed = skipped = 0
    failed_in = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".xml"):
            continue
        try:
            states = list(cases(os.path.join(folder, name)).values())
        except ET.ParseError as e:
            print(f"  {name[:-4]}: unreadable report ({e})")
            failed_in[name] = 0
            continue
        p, f, s = states.count("passed"), states.count("failed"), states.count("skipped")
        failed_in[name] = f
        print(f"  {name[:-4]}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
        passed, failed, skipped = passed + p, failed + f, skipped + s
    steps = os.path.join(folder, "failed-steps")
    if os.path.exists(steps):
        for line in open(steps):
            step, _, report = line.rstrip("\n").partition("\t")
            if report and failed_in.get(report, 0) > 0:
                print(f"  step failed: {step} (its {failed_in[report]} failed cases are counted above)")
                continue
            why = "no report" if report and report not in failed_in else "no failed case in its report" if report else ""
            print(f"  step failed: {step}" + (f" ({why})" if why else ""))
            failed += 1
    if passed + failed == 0:
        print("no tests ran")
        failed = 1
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build-results"))
