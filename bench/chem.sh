#!/usr/bin/env bash
# Chemistry: SDF ingest throughput and substructure search, against the obabel command line.
#
# Input: BENCH_MOLS molecules (default 100000) in one SDF, built from the NCI set shipped
# with rdkit-data (BENCH_CHEM_SMI, default /usr/share/RDKit/Data/NCI/first_5K.smi, 4999
# SMILES): `obabel first_5K.smi -osdf` once (no coordinates: fast; the molfiles are 0D),
# then repeated until BENCH_MOLS molecules, each repeat's titles suffixed -r1, -r2, ...
#
# 1. ingest (molecules/s)
#    baseline: the identifiers carboy computes, the way a user gets them from the obabel
#      command line, one after the other on the same file:
#        obabel in.sdf -ocan; obabel in.sdf -oinchi; obabel in.sdf -oinchikey;
#        obabel in.sdf -otxt --append "formula MW"
#      rate = molecules / total time of the four. (carboy computes more per molecule:
#      exact mass, logP, TPSA, HBD/HBA, rotatable bonds and an FP2 fingerprint too.)
#    carboy: PUT /api/v1/folders/F/files/in.sdf, then GET /api/v1/files/ID polled (50 ms)
#      until "processed"; rate = molecules / (upload start .. processed).
#    Also logged: where the time goes (the converter process, until its records.jsonl in
#      the server's work folder was last written, polled; then the server storing the
#      records until the file reads "processed"), CPU seconds of the server and of its
#      converter processes (from /proc) against obabel's (/usr/bin/time), and, unless
#      BENCH_CHEM_SMALL=0, a second ingest of BENCH_CHEM_SMALL molecules (default 2000,
#      every k-th of the file: the same mix) on the same server, after the searches, for
#      a two-point fit of fixed and per-molecule costs. BENCH_CHEM_CHECK (default 50):
#      the first records' SMILES, InChIKey, formula and MW as carboy stored them are
#      compared with obabel's output.
# 2. substructure search (queries/s), over the BENCH_MOLS records of the same server
#    baseline: obabel's fastsearch index, built once (`obabel in.sdf -ofs`, not counted),
#      `obabel in.fs -s"PATTERN" -al<BENCH_MOLS+1> -ocan` per pattern (-al: fastsearch
#      otherwise stops after 4000 fingerprint candidates and misses hits).
#    carboy: GET /api/v1/search/structure?smarts=PATTERN&limit=1000 (curl).
#    BENCH_CHEM_PATTERNS (default below), each run BENCH_CHEM_SEARCH_RUNS times (default 3;
#    alternating obabel/carboy; median per pattern). queries/s = patterns / sum of the
#    per-pattern medians. Hit counts are compared: carboy returns at most 1000 hits, so
#    counts (and the titles found) are compared only where carboy returned fewer;
#    elsewhere its hits must be among obabel's. There obabel also writes hits carboy does
#    not return, so the time obabel takes for its first 1000 (`| head -n 1000`) is shown
#    too, with the ratio over the same output size (informational; the RESULT uses the
#    full obabel command).
#    The patterns are then reported in two groups: selective (obabel finds fewer than 1000
#    hits: carboy's whole answer against obabel's, target 2x) and common (carboy's first
#    1000 hits against obabel's first 1000, `| head -n 1000`, target 1x).
# 3. similarity search (Tanimoto >= 0.7 on FP2), BENCH_CHEM_SIM_QUERIES molecules of the
#    set (default 5, spread over it), each BENCH_CHEM_SEARCH_RUNS times:
#    baseline: `obabel in.fs -s"SMILES" -at0.7 -al<BENCH_MOLS+1> -ocan` (every hit);
#    carboy: GET /api/v1/search/structure?smiles=SMILES&mode=similarity&threshold=0.7
#      &limit=1000 (the best 1000, and the total), timed as a client of a server uses it:
#      one keep-alive HTTP connection (python3 http.client), from sending the request to
#      having read the whole answer (as bench/search.sh times queries). Each query is also
#      sent by a curl process of its own, whose time (mostly curl's start: ~10 ms on 2
#      cores) is logged beside. Counts compared: obabel's hits and carboy's hits above 0.7
#      (fastsearch keeps Tanimoto > t, carboy >= t). Reported: the ratio of the summed
#      medians (keep-alive) and carboy's p50 (ms), and the same with curl.
#
# Final lines:
#   RESULT chem-ingest baseline=<obabel mol/s> carboy=<carboy mol/s> ratio=<carboy/obabel> target=1.5
#   RESULT chem-substructure baseline=<obabel queries/s> carboy=<carboy queries/s> ratio=<carboy/obabel> target=1.0
#   RESULT chem-substructure-selective baseline=<obabel s> carboy=<carboy s> ratio=<obabel/carboy> target=2.0
#   RESULT chem-substructure-common baseline=<obabel first 1000, s> carboy=<carboy s> ratio=<obabel/carboy> target=1.0
#   RESULT chem-similarity baseline=<obabel s> carboy=<carboy s> ratio=<obabel/carboy> target=5.0 p50_ms=<carboy>
# About 6 minutes with the defaults on 2 cores; the temp dir needs ~500 MB.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init chem
command -v obabel >/dev/null || die "obabel not found (apt-get install openbabel)"
NMOLS=${BENCH_MOLS:-100000}
SMI=${BENCH_CHEM_SMI:-/usr/share/RDKit/Data/NCI/first_5K.smi}
SMALL=${BENCH_CHEM_SMALL:-2000}
RUNS=${BENCH_CHEM_SEARCH_RUNS:-3}
SIMQ=${BENCH_CHEM_SIM_QUERIES:-5}
NCHECK=${BENCH_CHEM_CHECK:-50}
INGEST_TIMEOUT=${BENCH_CHEM_TIMEOUT:-900} # seconds, for one ingest to finish
read -r -a PATTERNS <<<"${BENCH_CHEM_PATTERNS:-c1ccccc1Cl [N+](=O)[O-] C(=O)O c1ccncc1 S(=O)(=O)N c1ccc2[nH]ccc2c1 c1ccsc1 S(=O)(=O)Cl}"
LIMIT=1000
TARGET_INGEST=1.5
TARGET_SEARCH=1.0
for v in NMOLS RUNS INGEST_TIMEOUT SIMQ; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
[[ "$SMALL" =~ ^[0-9]+$ ]] || die "BENCH_CHEM_SMALL must be a whole number, not '$SMALL'"
[[ "$NCHECK" =~ ^[0-9]+$ ]] || die "BENCH_CHEM_CHECK must be a whole number, not '$NCHECK'"
[ ${#PATTERNS[@]} -gt 0 ] || die "BENCH_CHEM_PATTERNS is empty"
[ -r "$SMI" ] || die "$SMI not found (apt-get install rdkit-data)"
log "obabel: $(obabel -V 2>&1 | head -1)"

# ---------------------------------------------------------------- input
base="$BENCH_TMP/base.sdf"
sdf="$BENCH_TMP/in.sdf"
t0=$(now)
obabel "$SMI" -osdf -O "$base" >"$BENCH_TMP/obabel-sdf.err" 2>&1 || { cat "$BENCH_TMP/obabel-sdf.err" >&2; die "obabel $SMI -osdf failed"; }
nbase=$(grep -c '^\$\$\$\$' "$base" || true)
[ "$nbase" -gt 0 ] || die "obabel wrote no molecule from $SMI"
# Repeat (the title is each record's first line), stop after NMOLS records.
reps=$(((NMOLS + nbase - 1) / nbase))
copies=()
for ((i = 0; i < reps; i++)); do copies+=("$base"); done
awk -v n="$NMOLS" '
  BEGIN { first = 1; r = 1 }
  FNR == 1 && NR > 1 { r++ }
  { if (first) { print $0 "-r" r; first = 0 } else print }
  /^\$\$\$\$/ { first = 1; if (++c >= n) exit }
' "${copies[@]}" >"$sdf"
n=$(grep -c '^\$\$\$\$' "$sdf" || true)
[ "$n" -eq "$NMOLS" ] || die "built $n molecules, expected $NMOLS"
rm -f "$base"
log "input: $n molecules ($nbase from $(basename "$SMI") x$reps, titles -rN), $(($(stat -c %s "$sdf") / 1048576)) MiB SDF, built in $(elapsed "$t0" "$(now)") s"

# ---------------------------------------------------------------- ingest: obabel
# ob_step NAME ARGS...: runs `obabel in.sdf ARGS`, output to $BENCH_TMP/ob-NAME.out;
# prints the seconds; dies unless it wrote one line per molecule. Adds its CPU seconds
# (user + sys, from /usr/bin/time when there is one) to $BENCH_TMP/ob-cpu.
ob_step() {
  local name=$1 t0 t1 lines timer=()
  shift
  [ ! -x /usr/bin/time ] || timer=(/usr/bin/time -f '%U %S' -a -o "$BENCH_TMP/ob-cpu")
  t0=$(now)
  "${timer[@]}" obabel "$sdf" "$@" >"$BENCH_TMP/ob-$name.out" 2>"$BENCH_TMP/ob-$name.err" || { tail -5 "$BENCH_TMP/ob-$name.err" >&2; die "obabel in.sdf $* failed"; }
  t1=$(now)
  lines=$(wc -l <"$BENCH_TMP/ob-$name.out")
  [ "$lines" -eq "$NMOLS" ] || die "obabel in.sdf $* wrote $lines lines for $NMOLS molecules"
  elapsed "$t0" "$t1"
}
cat "$sdf" >/dev/null # page cache
log "baseline: obabel in.sdf -ocan / -oinchi / -oinchikey / -otxt --append \"formula MW\""
t_can=$(ob_step can -ocan)
t_inchi=$(ob_step inchi -oinchi)
t_key=$(ob_step inchikey -oinchikey)
t_fmw=$(ob_step fmw -otxt --append "formula MW")
t_ob=$(awk -v a="$t_can" -v b="$t_inchi" -v c="$t_key" -v d="$t_fmw" 'BEGIN { printf "%.3f\n", a + b + c + d }')
ob_rate=$(awk -v n="$NMOLS" -v t="$t_ob" 'BEGIN { printf "%.1f\n", n / t }')
ob_cpu=$( [ -s "$BENCH_TMP/ob-cpu" ] && awk '{ s += $1 + $2 } END { printf "%.2f\n", s }' "$BENCH_TMP/ob-cpu" || echo "?")
log "obabel: can $t_can s, inchi $t_inchi s, inchikey $t_key s, formula+MW $t_fmw s; total $t_ob s = $ob_rate mol/s ($ob_cpu CPU s)"

# fastsearch index (not counted)
t0=$(now)
obabel "$sdf" -ofs -O "$BENCH_TMP/in.fs" >"$BENCH_TMP/ob-fs.err" 2>&1 || { tail -5 "$BENCH_TMP/ob-fs.err" >&2; die "obabel in.sdf -ofs failed"; }
t_fs=$(elapsed "$t0" "$(now)")
log "fastsearch index: obabel in.sdf -ofs took $t_fs s (not counted)"

# ---------------------------------------------------------------- ingest: carboy
start_carboy
folder=$(carboy_folder chem)

# The ingest watcher: polls the file until processed (one keep-alive connection), watches
# the converter's records.jsonl grow in the data dir, and adds up CPU time of the server
# and its converter processes. Prints one JSON object.
watcher="$BENCH_TMP/watch.py"
cat >"$watcher" <<'EOF'
import datetime, glob, http.client, json, os, sys, time, urllib.parse

url = urllib.parse.urlsplit(os.environ["CARBOY_URL"])
auth = os.environ.get("AUTH_HEADER", "")
file_id, server_pid, data_dir, t_start, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
H = {}
if auth:
    k, v = auth.split(":", 1)
    H[k.strip()] = v.strip()
HZ = os.sysconf("SC_CLK_TCK")


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # fields from 3 on: state ppid ... utime(14) stime(15) cutime(16) cstime(17)
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def cpu():
    """(server's own CPU s, converters' CPU s: live descendants plus reaped children)"""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(d)
            if st:
                kids.setdefault(st[0], []).append(int(d))
    own = stat(server_pid)
    if not own:
        return None, None
    desc, todo = 0, list(kids.get(server_pid, []))
    while todo:
        p = todo.pop()
        st = stat(p)
        if st:
            desc += st[1] + st[2]
        todo += kids.get(p, [])
    return own[1] / HZ, (own[2] + desc) / HZ


conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def get(path):
    global conn
    for attempt in range(3):
        try:
            conn.request("GET", path, headers=H)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                sys.exit(f"watch: GET {path} answered {r.status}: {body[:300]!r}")
            return json.loads(body)
        except (http.client.HTTPException, OSError):
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    sys.exit(f"watch: GET {path} failed")


cpu0 = cpu()
last_grow, first_seen, max_size = None, None, 0
status = None
while True:
    now = time.time()
    for p in glob.glob(os.path.join(data_dir, "work", "*", "records.jsonl")):
        try:
            st = os.stat(p)
        except OSError:
            continue
        if first_seen is None:
            first_seen = now
        last_grow = st.st_mtime_ns / 1e9  # the converter's last write
        max_size = max(max_size, st.st_size)
    f = get(f"/api/v1/files/{file_id}")
    status = f["status"]
    if status in ("processed", "failed"):
        t_done = time.time()
        break
    if now - t_start > timeout:
        sys.exit(f"watch: file {file_id} still '{status}' after {timeout:.0f} s")
    time.sleep(0.05)
cpu1 = cpu()


def ts(s):
    return datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() if s else None


job = None
cursor = None
for _ in range(50):
    page = get("/api/v1/jobs?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
    for j in page.get("jobs", []):
        if j.get("type") == "ingest" and file_id in j.get("inputs", []):
            job = j
    cursor = page.get("next_cursor")
    if job or not cursor:
        break
out = {
    "status": status, "error": f.get("error"), "record_count": f.get("record_count"), "t_done": t_done,
    "records_first": first_seen, "records_last_growth": last_grow, "records_bytes": max_size,
}
if job:
    out.update(job_created=ts(job.get("created_at")), job_started=ts(job.get("started_at")),
               job_finished=ts(job.get("finished_at")), job_attempts=job.get("attempts"))
if cpu0[0] is not None and cpu1[0] is not None:
    out.update(cpu_server=cpu1[0] - cpu0[0], cpu_converters=cpu1[1] - cpu0[1])
print(json.dumps(out))
EOF

# ingest_run FILE NAME MOLS: uploads, waits, logs the breakdown; sets ING_SECS, ING_RATE, ING_ID.
ingest_run() {
  local file=$1 name=$2 mols=$3 t0 t1 resp id w
  cat "$file" >/dev/null
  t0=$(now)
  resp=$(carboy_upload "$folder" "$file" "$name")
  t1=$(now)
  id=$(json_field id <"$resp")
  w="$BENCH_TMP/watch-$name.json"
  CARBOY_URL=$CARBOY_URL AUTH_HEADER=$AUTH_HEADER python3 "$watcher" "$id" "$CARBOY_PID" "$BENCH_TMP/data" "$t0" "$INGEST_TIMEOUT" >"$w" ||
    die "waiting for the ingest of $name failed"
  python3 - "$w" "$t0" "$t1" "$mols" "$name" >&2 <<'EOF' || die "ingest of $name did not end processed with every molecule"
import json, sys
w = json.load(open(sys.argv[1])); t0, t1, mols, name = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
total = w["t_done"] - t0
print(f"[chem] carboy {name}: {mols} molecules, status {w['status']}, record_count {w['record_count']}, {total:.2f} s = {mols / total:.1f} mol/s")
def at(k):
    v = w.get(k)
    return f"{v - t0:7.2f} s" if v else "      ?  "
print(f"[chem]   upload (PUT answered 201)        {t1 - t0:7.2f} s")
print(f"[chem]   ingest job created / started     {at('job_created')} / {at('job_started')}")
print(f"[chem]   records.jsonl last written       {at('records_last_growth')}  ({w['records_bytes'] / 1048576:.1f} MiB; the converter is done)")
print(f"[chem]   ingest job finished_at           {at('job_finished')}  (stamped when the server starts storing the records; attempts {w.get('job_attempts')})")
print(f"[chem]   status processed seen            {total:7.2f} s")
conv_end = w.get("records_last_growth") or w.get("job_finished")
if conv_end:
    conv = conv_end - (w.get("job_started") or t1)
    store = w["t_done"] - conv_end
    print(f"[chem]   => converter process (Open Babel, JSON lines) {conv:.2f} s = {mols / conv if conv > 0 else float('nan'):.0f} mol/s; "
          f"server storing the records (+ <= 50 ms polling) {store:.2f} s = {mols / store if store > 0 else float('nan'):.0f} mol/s")
if "cpu_server" in w:
    print(f"[chem]   CPU: server {w['cpu_server']:.2f} s, converter processes {w['cpu_converters']:.2f} s (wall {total:.2f} s)")
if w["status"] != "processed" or w["record_count"] != mols:
    print(f"[chem] ERROR: {name}: status {w['status']} ({w.get('error')}), record_count {w['record_count']}, expected {mols}")
    sys.exit(1)
EOF
  ING_SECS=$(python3 -c 'import json, sys; w = json.load(open(sys.argv[1])); print("%.3f" % (w["t_done"] - float(sys.argv[2])))' "$w" "$t0")
  ING_RATE=$(awk -v n="$mols" -v t="$ING_SECS" 'BEGIN { printf "%.1f\n", n / t }')
  ING_CPU=$(python3 -c 'import json, sys; w = json.load(open(sys.argv[1])); print("%.2f %.2f" % (w["cpu_server"], w["cpu_converters"]) if "cpu_server" in w else "? ?")' "$w")
  ING_CONV=$(python3 -c 'import json, sys; w = json.load(open(sys.argv[1])); e = w.get("records_last_growth") or w.get("job_finished"); print("%.2f %.2f" % (e - (w.get("job_started") or float(sys.argv[2])), w["t_done"] - e) if e else "? ?")' "$w" "$t0")
  ING_ID=$id
}

log "carboy: PUT in.sdf ($NMOLS molecules), polling GET /api/v1/files/ID until processed"
ingest_run "$sdf" in.sdf "$NMOLS"
cb_secs=$ING_SECS cb_rate=$ING_RATE big_id=$ING_ID
read -r cb_cpu_server cb_cpu_conv <<<"$ING_CPU"
read -r cb_t_conv cb_t_store <<<"$ING_CONV"

# Do the stored identifiers match obabel's? (the first NCHECK records)
if [ "$NCHECK" -gt 0 ]; then
  chk_limit=$((NCHECK < 1000 ? NCHECK : 1000))
  curl -sS --max-time 60 "${CARBOY_AUTH[@]}" -o "$BENCH_TMP/records.json" \
    "$CARBOY_URL/api/v1/files/$big_id/records?limit=$chk_limit" || die "GET /api/v1/files/$big_id/records failed"
  python3 - "$BENCH_TMP/records.json" "$BENCH_TMP" "$chk_limit" >&2 <<'EOF' || die "could not compare the stored identifiers"
import json, sys
recs = json.load(open(sys.argv[1])).get("records", [])
d, n = sys.argv[2], int(sys.argv[3])
def lines(name):
    with open(f"{d}/ob-{name}.out") as f:
        return [next(f).rstrip("\n") for _ in range(n)]
can = [l.split("\t")[0] for l in lines("can")]
key = [l.strip() for l in lines("inchikey")]
fmw = [l.split() for l in lines("fmw")]
bad = {"smiles": 0, "inchikey": 0, "formula": 0, "mw": 0}
ex = []
for r in recs:
    i = r["index"]
    props = {p["name"]: p["value"] for p in r.get("properties", [])}
    if r.get("smiles") != can[i]:
        bad["smiles"] += 1; ex.append(f"#{i} smiles {r.get('smiles')} vs {can[i]}")
    if r.get("inchikey") != key[i]:
        bad["inchikey"] += 1; ex.append(f"#{i} inchikey {r.get('inchikey')} vs {key[i]}")
    if props.get("formula") != fmw[i][-2]:
        bad["formula"] += 1; ex.append(f"#{i} formula {props.get('formula')} vs {fmw[i][-2]}")
    if abs(float(props.get("molecular_weight", 0)) - float(fmw[i][-1])) > 0.01:
        bad["mw"] += 1; ex.append(f"#{i} MW {props.get('molecular_weight')} vs {fmw[i][-1]}")
print(f"[chem] identifiers of the first {len(recs)} records vs obabel's: "
      + ", ".join(f"{k} {len(recs) - v}/{len(recs)} equal" for k, v in bad.items()))
for e in ex[:5]:
    print(f"[chem]   differs: {e}")
EOF
fi

# ---------------------------------------------------------------- substructure search
urlenc() {
  python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}
# ob_search PATTERN OUT: prints seconds
ob_search() {
  local t0 t1
  t0=$(now)
  obabel "$BENCH_TMP/in.fs" -s"$1" -al$((NMOLS + 1)) -ocan >"$2" 2>"$2.err" || { tail -5 "$2.err" >&2; die "obabel in.fs -s'$1' failed"; }
  t1=$(now)
  elapsed "$t0" "$t1"
}
# ob_search_first PATTERN: prints the seconds obabel takes to write its first $LIMIT hits
# (the rest of the pipeline ends when head has them: obabel dies of SIGPIPE)
ob_search_first() {
  local t0 t1
  t0=$(now)
  { obabel "$BENCH_TMP/in.fs" -s"$1" -al$((NMOLS + 1)) -ocan 2>/dev/null || true; } | head -n "$LIMIT" >/dev/null
  t1=$(now)
  elapsed "$t0" "$t1"
}
# cb_search PATTERN OUT: prints seconds
cb_search() {
  local t0 t1 code url
  # the URL is made before the clock starts (urlenc is a python3 process)
  url="$CARBOY_URL/api/v1/search/structure?smarts=$(urlenc "$1")&limit=$LIMIT"
  t0=$(now)
  code=$(curl -sS -o "$2" -w '%{http_code}' --max-time 300 "${CARBOY_AUTH[@]}" "$url") || die "search for '$1' failed (curl exit $?)"
  t1=$(now)
  [ "$code" = 200 ] || die "search for '$1' answered HTTP $code: $(head -c 500 "$2")"
  elapsed "$t0" "$t1"
}

log "substructure search: ${#PATTERNS[@]} patterns x $RUNS runs, obabel in.fs -s P -al$((NMOLS + 1)) -ocan vs GET /api/v1/search/structure?smarts=P&limit=$LIMIT"
ob_meds=() cb_meds=() ob_eq=() rows=() mismatch=0
selective_ob=() selective_cb=() common_ob=() common_cb=()
for p in "${PATTERNS[@]}"; do
  ob_t=() cb_t=()
  for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then
      ob_t+=("$(ob_search "$p" "$BENCH_TMP/ob-search.out")")
      cb_t+=("$(cb_search "$p" "$BENCH_TMP/cb-search.json")")
    else
      cb_t+=("$(cb_search "$p" "$BENCH_TMP/cb-search.json")")
      ob_t+=("$(ob_search "$p" "$BENCH_TMP/ob-search.out")")
    fi
  done
  ob_m=$(printf '%s\n' "${ob_t[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.4f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  cb_m=$(printf '%s\n' "${cb_t[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.4f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  ob_meds+=("$ob_m") cb_meds+=("$cb_m")
  # counts and titles (of the last run of each)
  cmp=$(python3 - "$BENCH_TMP/ob-search.out" "$BENCH_TMP/cb-search.json" "$LIMIT" <<'EOF'
import json, sys
ob = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1]) if l.strip()]
ob_titles = {x[1].strip() if len(x) > 1 else "" for x in ob}
d = json.load(open(sys.argv[2]))
hits = d.get("hits", [])
cb_titles = {h.get("title", "") for h in hits}
limit = int(sys.argv[3])
trunc = " truncated" if d.get("truncated") else ""
if len(hits) >= limit:
    ok = "ok" if len(ob) >= limit else "MISMATCH"
    note = f"carboy at its limit{trunc}; obabel {'>=' if len(ob) >= limit else '<'} {limit}"
    extra = ""
    if ok == "ok" and not cb_titles <= ob_titles:
        ok, extra = "MISMATCH", f"; {len(cb_titles - ob_titles)} carboy hits obabel lacks, e.g. {sorted(cb_titles - ob_titles)[:3]}"
    print(f"{ok}\t{len(ob)}\t{len(hits)}\t{note}{extra}")
else:
    miss, more = ob_titles - cb_titles, cb_titles - ob_titles
    ok = "ok" if len(ob) == len(hits) and not miss and not more else "MISMATCH"
    note = "same molecules" if ok == "ok" else f"only obabel: {len(miss)} {sorted(miss)[:3]}; only carboy: {len(more)} {sorted(more)[:3]}"
    print(f"{ok}\t{len(ob)}\t{len(hits)}\t{note}{trunc}")
EOF
  ) || die "could not compare the hits for '$p'"
  IFS=$'\t' read -r verdict ob_n cb_n note <<<"$cmp"
  [ "$verdict" = ok ] || mismatch=$((mismatch + 1))
  log "  $p: obabel ${ob_t[*]} s ($ob_n hits), carboy ${cb_t[*]} s ($cb_n hits): $verdict, $note"
  # Where obabel writes more hits than carboy returns: also time obabel's first LIMIT hits.
  first_m=-
  if [ "$ob_n" -gt "$LIMIT" ]; then
    f_t=()
    for ((i = 1; i <= RUNS; i++)); do f_t+=("$(ob_search_first "$p")"); done
    first_m=$(printf '%s\n' "${f_t[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.4f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    log "  $p: obabel's first $LIMIT hits (| head -n $LIMIT): ${f_t[*]} s"
    ob_eq+=("$first_m")
    common_ob+=("$first_m") common_cb+=("$cb_m")
  else
    ob_eq+=("$ob_m")
    selective_ob+=("$ob_m") selective_cb+=("$cb_m")
  fi
  rows+=("$(printf '  %-16s %9s %9s %9s %8s %8s   %-8s %s' "$p" "$ob_m" "$first_m" "$cb_m" "$ob_n" "$cb_n" "$verdict" "$note")")
done
ob_sum=$(printf '%s\n' "${ob_meds[@]}" | awk '{ s += $1 } END { printf "%.4f\n", s }')
cb_sum=$(printf '%s\n' "${cb_meds[@]}" | awk '{ s += $1 } END { printf "%.4f\n", s }')
ob_eq_sum=$(printf '%s\n' "${ob_eq[@]}" | awk '{ s += $1 } END { printf "%.4f\n", s }')
eq_ratio=$(ratio "$ob_eq_sum" "$cb_sum")
ob_qps=$(awk -v n="${#PATTERNS[@]}" -v t="$ob_sum" 'BEGIN { printf "%.3f\n", n / t }')
cb_qps=$(awk -v n="${#PATTERNS[@]}" -v t="$cb_sum" 'BEGIN { printf "%.3f\n", n / t }')
search_ratio=$(ratio "$cb_qps" "$ob_qps")
per_pattern=()
for ((i = 0; i < ${#PATTERNS[@]}; i++)); do per_pattern+=("$(ratio "${ob_meds[$i]}" "${cb_meds[$i]}")"); done
med_ratio=$(median "${per_pattern[@]}")

# ---------------------------------------------------------------- similarity search
# SIMQ molecules spread over the set (its SMILES as written in the source file)
mapfile -t SIM_SMILES < <(awk -v n="$SIMQ" -v total="$(wc -l <"$SMI")" \
  'NR % int(total / n) == 1 && c < n { print $1; c++ }' "$SMI")
[ "${#SIM_SMILES[@]}" -gt 0 ] || die "no similarity query molecules from $SMI"
ob_sim() {
  local t0 t1
  t0=$(now)
  obabel "$BENCH_TMP/in.fs" -s"$1" -at0.7 -al$((NMOLS + 1)) -ocan >"$2" 2>"$2.err" || { tail -5 "$2.err" >&2; die "obabel in.fs -s'$1' -at0.7 failed"; }
  t1=$(now)
  elapsed "$t0" "$t1"
}
cb_sim() {
  local t0 t1 code url
  url="$CARBOY_URL/api/v1/search/structure?smiles=$(urlenc "$1")&mode=similarity&threshold=0.7&limit=$LIMIT"
  t0=$(now)
  code=$(curl -sS -o "$2" -w '%{http_code}' --max-time 300 "${CARBOY_AUTH[@]}" "$url") || die "similarity search for '$1' failed (curl exit $?)"
  t1=$(now)
  [ "$code" = 200 ] || die "similarity search for '$1' answered HTTP $code: $(head -c 500 "$2")"
  elapsed "$t0" "$t1"
}
log "similarity search: ${#SIM_SMILES[@]} molecules x $RUNS runs, obabel in.fs -s S -at0.7 vs GET /api/v1/search/structure?smiles=S&mode=similarity&threshold=0.7&limit=$LIMIT"
sim_ob=() sim_cb=() sim_all_cb=() sim_rows=()
for q in "${SIM_SMILES[@]}"; do
  ob_t=() cb_t=()
  for ((i = 1; i <= RUNS; i++)); do
    ob_t+=("$(ob_sim "$q" "$BENCH_TMP/ob-sim.out")")
    cb_t+=("$(cb_sim "$q" "$BENCH_TMP/cb-sim.json")")
  done
  sim_ob+=("$(printf '%s\n' "${ob_t[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.4f\n", a[int((NR + 1) / 2)] }')") sim_cb+=("$(printf '%s\n' "${cb_t[@]}" | sort -g | awk '{ a[NR] = $1 } END { printf "%.4f\n", a[int((NR + 1) / 2)] }')")
  sim_all_cb+=("${cb_t[@]}")
  ob_n=$(grep -c . "$BENCH_TMP/ob-sim.out" || true)
  # fastsearch keeps Tanimoto > 0.7, carboy >= 0.7 (its threshold is inclusive): compared on
  # the hits above 0.7 when carboy's answer holds them all
  read -r cb_n cb_above <<<"$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d["total"], sum(h["similarity"] > 0.7 for h in d["hits"]) if len(d["hits"]) == d["total"] else d["total"])' "$BENCH_TMP/cb-sim.json")"
  verdict=ok
  [ "$ob_n" = "$cb_above" ] || { verdict=MISMATCH; mismatch=$((mismatch + 1)); }
  log "  $q: obabel ${ob_t[*]} s ($ob_n hits), carboy ${cb_t[*]} s (total $cb_n, $cb_above above 0.7): $verdict"
  sim_rows+=("$(printf '  %-40.40s %9s %9s %8s %8s   %s' "$q" "${sim_ob[-1]}" "${sim_cb[-1]}" "$ob_n" "$cb_n" "$verdict")")
done
sim_ob_sum=$(printf '%s\n' "${sim_ob[@]}" | awk '{ s += $1 } END { printf "%.4f\n", s }')
p50_ms() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 * 1000 } END { printf "%.1f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
sim_curl_sum=$(printf '%s\n' "${sim_cb[@]}" | awk '{ s += $1 } END { printf "%.4f\n", s }')
sim_curl_ratio=$(ratio "$sim_ob_sum" "$sim_curl_sum")
sim_curl_p50_ms=$(p50_ms "${sim_all_cb[@]}")
# the same queries through one keep-alive connection: "median all..." per query
mapfile -t sim_ka < <(CARBOY_URL=$CARBOY_URL AUTH_HEADER=$AUTH_HEADER python3 - "$RUNS" "$LIMIT" "${SIM_SMILES[@]}" <<'PY'
import http.client, json, os, sys, time, urllib.parse
runs, limit, queries = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
u = urllib.parse.urlsplit(os.environ["CARBOY_URL"])
h = {}
if os.environ.get("AUTH_HEADER"):
    k, v = os.environ["AUTH_HEADER"].split(":", 1)
    h[k.strip()] = v.strip()
c = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
for q in queries:
    path = "/api/v1/search/structure?" + urllib.parse.urlencode(
        {"smiles": q, "mode": "similarity", "threshold": "0.7", "limit": limit})
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read()
        ts.append(time.perf_counter() - t0)
        if r.status != 200:
            sys.exit(f"similarity search for {q} answered HTTP {r.status}: {body[:300]!r}")
    print(f"{sorted(ts)[(len(ts) - 1) // 2]:.4f}", *(f"{t:.4f}" for t in ts))
PY
) || die "the keep-alive similarity queries failed"
[ "${#sim_ka[@]}" -eq "${#SIM_SMILES[@]}" ] || die "the keep-alive similarity client answered ${#sim_ka[@]} of ${#SIM_SMILES[@]} queries"
sim_cb=() sim_all_cb=()
for ((i = 0; i < ${#sim_ka[@]}; i++)); do
  read -r -a t <<<"${sim_ka[$i]}"
  sim_cb+=("${t[0]}")
  sim_all_cb+=("${t[@]:1}")
  log "  ${SIM_SMILES[$i]}: carboy over one keep-alive connection ${t[*]:1} s"
done
sim_cb_sum=$(printf '%s\n' "${sim_cb[@]}" | awk '{ s += $1 } END { printf "%.4f\n", s }')
sim_ratio=$(ratio "$sim_ob_sum" "$sim_cb_sum")
sim_p50_ms=$(p50_ms "${sim_all_cb[@]}")
sum_of() { if [ "$#" -eq 0 ]; then echo 0; else printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.4f\n", s }'; fi; }
sel_ob_sum=$(sum_of "${selective_ob[@]}") sel_cb_sum=$(sum_of "${selective_cb[@]}")
com_ob_sum=$(sum_of "${common_ob[@]}") com_cb_sum=$(sum_of "${common_cb[@]}")

# ---------------------------------------------------------------- small ingest (scaling)
small_line=
if [ "$SMALL" -gt 0 ] && [ "$SMALL" -lt "$NMOLS" ]; then
  # every k-th molecule: the same mix of molecules as the whole file
  awk -v n="$SMALL" -v k="$((NMOLS / SMALL))" '(c % k) == 0 && kept < n { print; if (/^\$\$\$\$/) kept++ } /^\$\$\$\$/ { c++ }' "$sdf" >"$BENCH_TMP/small.sdf"
  [ "$(grep -c '^\$\$\$\$' "$BENCH_TMP/small.sdf")" -eq "$SMALL" ] || die "small.sdf does not hold $SMALL molecules"
  log "carboy: PUT small.sdf (every $((NMOLS / SMALL))th molecule, $SMALL), same server, for fixed vs per-molecule costs"
  ingest_run "$BENCH_TMP/small.sdf" small.sdf "$SMALL"
  per_mol_ms=$(awk -v a="$cb_secs" -v b="$ING_SECS" -v n="$NMOLS" -v m="$SMALL" 'BEGIN { printf "%.3f\n", (a - b) / (n - m) * 1000 }')
  fixed=$(awk -v a="$cb_secs" -v b="$ING_SECS" -v n="$NMOLS" -v m="$SMALL" 'BEGIN { printf "%.2f\n", b - (a - b) / (n - m) * m }')
  small_line="  carboy, $SMALL molecules (every $((NMOLS / SMALL))th): $ING_SECS s = $ING_RATE mol/s  (two-point fit: ${per_mol_ms} ms/molecule + ${fixed} s fixed)"
fi

# ---------------------------------------------------------------- report
ingest_ratio=$(ratio "$cb_rate" "$ob_rate")
echo "chem: $NMOLS molecules from $(basename "$SMI") (0D SDF, $(($(stat -c %s "$sdf") / 1048576)) MiB); $(nproc) cores"
echo "ingest (molecules/s)"
echo "  obabel (can + inchi + inchikey + formula/MW, one after another): $t_ob s = $ob_rate mol/s"
echo "    can $t_can s, inchi $t_inchi s, inchikey $t_key s, txt --append \"formula MW\" $t_fmw s"
echo "  carboy (PUT .. status processed):                                 $cb_secs s = $cb_rate mol/s"
echo "    converter process $cb_t_conv s, then the server storing the records $cb_t_store s"
[ -z "$small_line" ] || echo "$small_line"
echo "  CPU: obabel $ob_cpu s; carboy converters $cb_cpu_conv s + server $cb_cpu_server s (machine load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "  ratio carboy/obabel: $ingest_ratio (target >= $TARGET_INGEST)"
echo "substructure search (fastsearch index built in $t_fs s, not counted; $RUNS run(s) per pattern, median s)"
printf '  %-16s %9s %9s %9s %8s %8s   %s\n' pattern obabel_s ob_1st_s carboy_s ob_hits cb_hits "hits check (carboy returns at most $LIMIT)"
printf '%s\n' "${rows[@]}"
echo "  total: obabel $ob_sum s = $ob_qps queries/s, carboy $cb_sum s = $cb_qps queries/s"
echo "  speed ratio obabel_time/carboy_time: $search_ratio over the sum, $med_ratio median per pattern (>1: carboy faster; target > $TARGET_SEARCH)"
echo "  same output size (ob_1st_s: obabel until its first $LIMIT hits, | head -n $LIMIT, where it finds more): obabel $ob_eq_sum s, ratio $eq_ratio (informational)"
echo "  selective (obabel < $LIMIT hits, ${#selective_ob[@]} patterns): obabel $sel_ob_sum s, carboy $sel_cb_sum s, ratio $(ratio "$sel_ob_sum" "$sel_cb_sum") (target >= 2)"
echo "  common (obabel >= $LIMIT hits, ${#common_ob[@]} patterns): obabel's first $LIMIT $com_ob_sum s, carboy $com_cb_sum s, ratio $(ratio "$com_ob_sum" "$com_cb_sum") (target >= 1)"
echo "similarity search (Tanimoto >= 0.7, FP2; $RUNS run(s) per molecule, median s)"
printf '  %-40s %9s %9s %8s %8s   %s\n' query obabel_s curl_s ob_hits cb_total check
printf '%s\n' "${sim_rows[@]}"
echo "  total: obabel $sim_ob_sum s, carboy $sim_cb_sum s (one keep-alive connection), ratio $sim_ratio (target >= 5); carboy p50 $sim_p50_ms ms (goal <= 20)"
echo "  with a curl process per query: carboy $sim_curl_sum s, ratio $sim_curl_ratio, p50 $sim_curl_p50_ms ms (informational)"
[ "$mismatch" -eq 0 ] || echo "  WARNING: hits differ for $mismatch query(ies), see above"
echo "RESULT chem-ingest baseline=$ob_rate carboy=$cb_rate ratio=$ingest_ratio target=$TARGET_INGEST"
echo "RESULT chem-substructure baseline=$ob_qps carboy=$cb_qps ratio=$search_ratio target=$TARGET_SEARCH"
[ "${#selective_ob[@]}" -eq 0 ] || echo "RESULT chem-substructure-selective baseline=$sel_ob_sum carboy=$sel_cb_sum ratio=$(ratio "$sel_ob_sum" "$sel_cb_sum") target=2.0"
[ "${#common_ob[@]}" -eq 0 ] || echo "RESULT chem-substructure-common baseline=$com_ob_sum carboy=$com_cb_sum ratio=$(ratio "$com_ob_sum" "$com_cb_sum") target=1.0"
echo "RESULT chem-similarity baseline=$sim_ob_sum carboy=$sim_cb_sum ratio=$sim_ratio target=5.0 p50_ms=$sim_p50_ms curl_ratio=$sim_curl_ratio curl_p50_ms=$sim_curl_p50_ms"
