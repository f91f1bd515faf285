"""A short soak (issue 10): bench/soak.sh for CARBOY_TEST_SOAK_SECONDS (default 20) against
the binary under test: wrk on four read endpoints plus parallel uploaders whose files are
read back and compared by sha256, the server's resident memory sampled every second. The
script fails on any non-2xx answer or socket error, any failed or mismatching upload, RSS
growth after warm-up beyond its bound, or a sanitizer report; this test checks its exit
and its report. Memory and errors only: no timing is asserted."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT


def asan_build():
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
    return "libasan" in out


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/install-deps.sh)")
def test_short_soak():
    seconds = int(os.environ.get("CARBOY_TEST_SOAK_SECONDS", "20"))
    env = dict(os.environ, CARBOY_BIN=BIN, DURATION=str(seconds), SOAK_WARMUP=str(max(5, seconds // 3)),
               SOAK_IDLE="2", PYTHON="/usr/bin/python3")
    if asan_build():
        # ASan's allocator keeps freed memory in quarantine: bound it, and allow for it
        env["ASAN_OPTIONS"] = "detect_leaks=1:quarantine_size_mb=16:allocator_release_to_os_interval_ms=100"
        env["SOAK_RSS_GROWTH_MB"] = "96"
    r = subprocess.run(["bash", os.path.join(ROOT, "bench", "soak.sh")], capture_output=True, text=True,
                       env=env, timeout=seconds + 240)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    rows = re.findall(r"^\s+(metadata|listing|search|download)\s+(\d+)\s+\S+\s+(\d+)\s", r.stdout, re.M)
    assert sorted(n for n, _, _ in rows) == ["download", "listing", "metadata", "search"], r.stdout
    for name, reqs, errors in rows:
        assert int(reqs) > 0 and int(errors) == 0, (name, reqs, errors)
    m = re.search(r"uploads: (\d+) done .*; (\d+) failed, (\d+) mismatched", r.stdout)
    assert m and int(m.group(1)) > 0 and m.group(2) == "0" and m.group(3) == "0", r.stdout
    assert "RESULT soak-p99 " in r.stdout
