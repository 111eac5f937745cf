#!/usr/bin/env bash
# Runs every Cầu test, installing first what the tests need (Chromium, MinIO).
# Safe to run on a fresh Debian machine with Go; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

export CAU_CACHE="${CAU_CACHE:-$HOME/.cache/cau}"
mkdir -p "$CAU_CACHE"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian's Chromium drives the real-browser tests (through chromedp).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (Debian package)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version

# A real MinIO server backs the object-store tests (internal/testutil/minio.go);
# pinned, built from source once and cached.
if [ ! -x "$CAU_CACHE/bin/minio" ]; then
  echo "== installing minio into $CAU_CACHE/bin (builds from source: 5-10 min the first time)"
  GOBIN="$CAU_CACHE/bin" go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
fi
export CAU_MINIO_BIN="$CAU_CACHE/bin/minio" CAU_REQUIRE_MINIO=1

echo "== go vet"
go vet ./...

# Tests that judge real-time media (congestion control, layer switches, the
# load generator's smoke run) run without the race detector, whose slowdown
# would be judged instead; everything else, and the signaling protocol tests,
# run with it.
realtime='/signaling$|/cmd/cau-load$'
echo "== go test -race"
go test -race -count=1 -timeout 20m $(go list ./... | grep -Ev "$realtime")
go test -race -count=1 -timeout 10m -run 'Token|BadInput|Keepalive|Fanout|Rejoin|RoleTable' ./signaling
echo "== go test (real-time media)"
go test -count=1 -timeout 15m $(go list ./... | grep -E "$realtime")

echo "== benchmarks"
go test -run '^$' -bench . -benchmem -benchtime 20000x ./sfu/
