#!/usr/bin/env bash
# Lanes: interactive latency beside two large ingests, against the same on an idle server.
#
# Interactive work (a depiction, a small upload's processing, a structure query) has
# workers batch work never takes (CARBOY_INTERACTIVE_WORKERS), so it should not wait behind
# ingests. Measured, each BENCH_LANES_RUNS times (default 5; median), on one server with its
# default settings:
#   upload      PUT of a one-line SMILES file (a molecule not seen before) until GET
#               /api/v1/files/ID reads "processed" (polled every 10 ms)
#   depiction   GET /api/v1/records/ID/depiction of that file's record (a new record:
#               always drawn, never cached)
#   similarity  GET /api/v1/search/structure?smiles=S&mode=similarity over the records of
#               a first file of BENCH_LANES_BASE molecules (default 4999, NCI first_5K.smi)
# first on the idle server (the baseline), then while two SDFs of BENCH_LANES_MOLS
# molecules each (default 20000, built from the same SMILES with `obabel -osdf`, titles
# suffixed) are being ingested (carboy). Every loaded measurement is taken while both
# ingests still run (checked after the last; a warning otherwise). Load averages are
# logged before, during and after.
#
# Final lines (ratio = idle / loaded, so higher is better; target 0.5 = at most 2x slower):
#   RESULT lanes-upload baseline=<idle ms> carboy=<loaded ms> ratio=<idle/loaded> target=0.5
#   RESULT lanes-depiction baseline=<idle ms> carboy=<loaded ms> ratio=<idle/loaded> target=0.5
#   RESULT lanes-similarity baseline=<idle ms> carboy=<loaded ms> ratio=<idle/loaded> target=0.5
# About 3 minutes on 2 cores.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init lanes
command -v obabel >/dev/null || die "obabel not found (apt-get install openbabel)"
SMI=${BENCH_LANES_SMI:-/usr/share/RDKit/Data/NCI/first_5K.smi}
NMOLS=${BENCH_LANES_MOLS:-20000}
RUNS=${BENCH_LANES_RUNS:-5}
TARGET=0.5
for v in NMOLS RUNS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
[ -r "$SMI" ] || die "$SMI not found (apt-get install rdkit-data)"

# ---------------------------------------------------------------- input
base="$BENCH_TMP/base.sdf"
obabel "$SMI" -osdf -O "$base" >"$BENCH_TMP/obabel-sdf.err" 2>&1 || { cat "$BENCH_TMP/obabel-sdf.err" >&2; die "obabel $SMI -osdf failed"; }
nbase=$(grep -c '^\$\$\$\$' "$base" || true)
[ "$nbase" -gt 0 ] || die "obabel wrote no molecule from $SMI"
reps=$(((NMOLS + nbase - 1) / nbase))
for name in a b; do
  copies=()
  for ((i = 0; i < reps; i++)); do copies+=("$base"); done
  # titles suffixed per file and repeat: two different files of NMOLS molecules
  awk -v n="$NMOLS" -v f="$name" '
    BEGIN { first = 1; r = 1 }
    FNR == 1 && NR > 1 { r++ }
    { if (first) { print $0 "-" f r; first = 0 } else print }
    /^\$\$\$\$/ { first = 1; if (++c >= n) exit }
  ' "${copies[@]}" >"$BENCH_TMP/$name.sdf"
  n=$(grep -c '^\$\$\$\$' "$BENCH_TMP/$name.sdf" || true)
  [ "$n" -eq "$NMOLS" ] || die "built $n molecules in $name.sdf, expected $NMOLS"
done
rm -f "$base"
log "input: two SDFs of $NMOLS molecules, $(($(stat -c %s "$BENCH_TMP/a.sdf") / 1048576)) MiB each"

start_carboy
folder=$(carboy_folder lanes)
log "base records: $(basename "$SMI")"
carboy_upload "$folder" "$SMI" base.smi >/dev/null

# The client: one Python process per phase, stdlib only. Prints "upload depiction
# similarity" medians in ms; with --ingests, checks both files are still processing after
# its last measurement.
client="$BENCH_TMP/client.py"
cat >"$client" <<'EOF'
import json, statistics, sys, time, urllib.parse, urllib.request

url, token, folder, smi, runs, phase = sys.argv[1:7]
watch = sys.argv[7:]
runs = int(runs)
hdr = {"Authorization": "Bearer " + token} if token else {}


def call(method, path, data=None):
    req = urllib.request.Request(url + "/api/v1" + path, data=data, method=method, headers=hdr)
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, r.read()


def status(file_id):
    return json.loads(call("GET", "/files/" + file_id)[1])["status"]


def wait_processed(file_id, timeout=600, step=0.01):
    end = time.time() + timeout
    while time.time() < end:
        s = status(file_id)
        if s in ("processed", "failed"):
            return s
        time.sleep(step)
    sys.exit(f"{file_id} not processed after {timeout} s")


lines = [l.split()[0] for l in open(smi) if l.strip()]
# molecules not uploaded before in this phase: the idle phase takes the first, the
# loaded phase the next, each file a new record of a new molecule
offset = 0 if phase == "idle" else runs
up, dep, sim = [], [], []
for i in range(runs):
    mol = lines[(37 * (offset + i) + 11) % len(lines)]
    body = f"{mol} lanes-{phase}-{i}\n".encode()
    t0 = time.perf_counter()
    st, out = call("PUT", f"/folders/{folder}/files/one-{phase}-{i}.smi", body)
    fid = json.loads(out)["id"]
    if wait_processed(fid) != "processed":
        sys.exit(f"one-line file {fid} failed")
    up.append((time.perf_counter() - t0) * 1000)
    rec = json.loads(call("GET", f"/files/{fid}/records?limit=1")[1])["records"][0]["id"]
    t0 = time.perf_counter()
    st, svg = call("GET", f"/records/{rec}/depiction")
    dep.append((time.perf_counter() - t0) * 1000)
    if st != 200 or b"<svg" not in svg[:4000]:
        sys.exit(f"depiction of {rec}: {st}")
    q = urllib.parse.urlencode({"smiles": lines[(101 * i + 5) % len(lines)], "mode": "similarity", "threshold": 0.7})
    t0 = time.perf_counter()
    st, res = call("GET", "/search/structure?" + q)
    sim.append((time.perf_counter() - t0) * 1000)
    if st != 200:
        sys.exit(f"similarity search: {st}")
still = [w for w in watch if status(w) not in ("processed", "failed")]
if watch and len(still) != len(watch):
    print(f"warning: only {len(still)} of {len(watch)} ingests still ran after the last measurement", file=sys.stderr)
print(f"{statistics.median(up):.1f} {statistics.median(dep):.1f} {statistics.median(sim):.1f}")
print("all ms: upload " + " ".join(f"{v:.0f}" for v in up) + "; depiction " + " ".join(f"{v:.0f}" for v in dep)
      + "; similarity " + " ".join(f"{v:.0f}" for v in sim), file=sys.stderr)
EOF
token=${AUTH_HEADER#Authorization: Bearer }
[ -n "$AUTH_HEADER" ] || token=
# wait for the base file's processing (it is the similarity search's records)
python3 - "$CARBOY_URL" "$token" <<'EOF'
import json, sys, time, urllib.request
url, token = sys.argv[1:3]
hdr = {"Authorization": "Bearer " + token} if token else {}
for _ in range(6000):
    req = urllib.request.Request(url + "/api/v1/jobs?state=queued&limit=1", headers=hdr)
    q = json.loads(urllib.request.urlopen(req).read())["jobs"]
    req = urllib.request.Request(url + "/api/v1/jobs?state=running&limit=1", headers=hdr)
    r = json.loads(urllib.request.urlopen(req).read())["jobs"]
    if not q and not r:
        sys.exit(0)
    time.sleep(0.1)
sys.exit("the base file was not processed in 600 s")
EOF
sleep 2
load_idle=$(cut -d' ' -f1-3 /proc/loadavg)
log "idle: load average $load_idle"
read -r idle_up idle_dep idle_sim < <(python3 "$client" "$CARBOY_URL" "$token" "$folder" "$SMI" "$RUNS" idle)
log "idle medians: upload $idle_up ms, depiction $idle_dep ms, similarity $idle_sim ms"

# ---------------------------------------------------------------- loaded
ids=()
for name in a b; do
  out=$(carboy_upload "$folder" "$BENCH_TMP/$name.sdf" "$name.sdf")
  ids+=("$(json_field id <"$out")")
done
# until both ingests are under way (a converter reading each)
for ((i = 0; i < 600; i++)); do
  running=$(curl -s "${CARBOY_AUTH[@]}" "$CARBOY_URL/api/v1/jobs?state=running&limit=100" |
    python3 -c 'import json, sys; print(sum(j["type"] == "ingest" for j in json.load(sys.stdin)["jobs"]))')
  [ "$running" -ge 2 ] && break
  sleep 0.1
done
[ "$running" -ge 2 ] || die "the two ingests did not start within 60 s"
sleep 3 # into their stride
load_during=$(cut -d' ' -f1-3 /proc/loadavg)
read -r load_up load_dep load_sim < <(python3 "$client" "$CARBOY_URL" "$token" "$folder" "$SMI" "$RUNS" loaded "${ids[@]}")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
log "loaded medians: upload $load_up ms, depiction $load_dep ms, similarity $load_sim ms"
log "load average: idle $load_idle, at the loaded phase's start $load_during, at its end $load_after ($(nproc) cores)"
echo "RESULT lanes-upload baseline=$idle_up carboy=$load_up ratio=$(ratio "$idle_up" "$load_up") target=$TARGET"
echo "RESULT lanes-depiction baseline=$idle_dep carboy=$load_dep ratio=$(ratio "$idle_dep" "$load_dep") target=$TARGET"
echo "RESULT lanes-similarity baseline=$idle_sim carboy=$load_sim ratio=$(ratio "$idle_sim" "$load_sim") target=$TARGET"
