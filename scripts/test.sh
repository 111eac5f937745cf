#!/usr/bin/env bash
# Runs every Cầu test, installing first what the tests need (Chromium).
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

echo "== go vet"
go vet ./...

echo "== go test (race detector on)"
# The load generator's smoke test pushes real media at full rate; under the
# race detector's slowdown it would measure the detector, so it runs plain.
go test -race -count=1 -timeout 20m $(go list ./... | grep -v /cmd/cau-load)
echo "== go test ./cmd/cau-load (smoke run of the load generator)"
go test -count=1 -timeout 10m ./cmd/cau-load

echo "== benchmarks"
go test -run '^$' -bench . -benchmem -benchtime 20000x ./sfu/
