#!/usr/bin/env bash
# The province-meeting benchmark: runs cau-load against a server it starts
# on loopback (server and generator on this machine) and writes one JSON
# summary per run under bench/results/, then prints a table.
#
#   bench/province.sh            # everything (about 20 minutes)
#   bench/province.sh main       # only the 215-point, 60 s province run
#
# Not a test: figures depend on the machine. docs/BENCHMARKS.md records them.
# The province runs set up a registered meeting through the REST API and run
# it under floor control (cau-load gives the server it starts an admin
# password); each summary's "meeting" section describes it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"
go build -o "$out/cau-load" ./cmd/cau-load
load="$out/cau-load"
roster=../shared/testdata/bridgepoints-langson.csv
[ -f "$roster" ] && rosterflag=(--roster "$roster") || rosterflag=()
what=${1:-all}

run() { # name, args...
  local name=$1; shift
  echo "== $name: cau-load $*" >&2
  timeout 600 "$load" "$@" --json "$out/$name.json" >/dev/null || echo "   ($name exited $?)" >&2
}

# 1. The province meeting: 215 points, 60 s, join storm over 30 s.
run province-215 --scenario province --points 215 --duration 60s --ramp 30s "${rosterflag[@]}"
[ "$what" = main ] && exit 0

# 2. Largest point count with loss < 0.5% and p95 join < 5 s (joins at 10/s).
for n in 50 100 150 215 300 400; do
  run "province-step-$n" --scenario province --points "$n" --duration 30s --ramp "$((n / 10))s"
done

# 3. Weak commune links: a fifth of the points behind 3% loss, 40 ms, 3 Mbit/s.
run province-215-impaired --scenario province --points 215 --duration 30s --ramp 30s \
  --impair-fraction 0.2 --impair-loss 3 --impair-delay 40ms --impair-rate 3000000

# 4. LiveKit's layout: P publishers, S subscribers (one high + up to 5 low each).
for ps in 1/100 1/200 1/300 5/100 5/150 10/100 10/150; do
  p=${ps%/*} s=${ps#*/}
  run "speaker-$p-$s" --scenario speaker --publishers "$p" --subscribers "$s" --duration 30s
done
run speaker-5-100-h264 --scenario speaker --publishers 5 --subscribers 100 --duration 30s --codec h264

python3 - "$out" <<'PY'
import json, glob, os, sys
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    d = json.load(open(f))
    rows.append((os.path.basename(f)[:-5], d))
keys = [("points", "%d"), ("receiving_tracks", "%d"), ("expected_tracks", "%d"), ("loss_pct", "%.3f"),
        ("loss_after_nack_pct", "%.3f"), ("join_p50_ms", "%.0f"), ("join_p95_ms", "%.0f"), ("join_max_ms", "%.0f"),
        ("forward_p99_ms", "%.1f"), ("e2e_p95_ms", "%.0f"), ("jitter_p95_ms", "%.1f"), ("forwarded_mbps", "%.1f"),
        ("server_cpu_pct", "%.0f"), ("server_cpu_machine_pct", "%.0f"), ("server_rss_mb", "%.0f"),
        ("server_cpu_us_per_packet", "%.1f"), ("server_cpu_pct_per_100mbps", "%.1f"),
        ("server_cpu_pct_per_1000_pps", "%.2f"), ("generator_cpu_pct", "%.0f"),
        ("meeting.setup_s", "%.1f"), ("meeting.grant_to_high_p95_ms", "%.0f")]
def get(d, k):  # "a.b" reads a nested field; absent fields print as 0
    for part in k.split("."):
        d = d.get(part) or {} if isinstance(d, dict) else {}
    return d if isinstance(d, (int, float)) else 0
print("| run | " + " | ".join(k for k, _ in keys) + " |")
print("|---" * (len(keys) + 1) + "|")
for name, d in rows:
    print("| " + name + " | " + " | ".join((fmt % get(d, k)) for k, fmt in keys) + " |")
PY
