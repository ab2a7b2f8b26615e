#!/usr/bin/env bash
# Runs every fuzz target in the repository for FUZZTIME each (default 30s),
# one after another, and lists the ones that failed. Some targets drive a
# whole adapter and need Redis on 127.0.0.1:6379 (make fuzz starts one).
#
# A failing input is written to the target's testdata/fuzz/<Target>/ folder:
# fix the bug, keep the file (it becomes a seed that `make test` runs), and
# commit both. `go test` itself never fuzzes; it only replays the seeds.
#
#   make fuzz                      # every target, 30s each
#   FUZZTIME=2m make fuzz          # longer
#   scripts/fuzz.sh ./adapters/... # only the targets under these packages
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-30s}"
go="${GO:-go}"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

failed=()
count=0
# Packages with test files; one without fuzz targets yields no names.
while read -r dir; do
  [ -n "$dir" ] || continue
  dir="./$(realpath --relative-to=. "$dir")"
  for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | cut -d' ' -f2 | sort -u); do
    count=$((count + 1))
    echo "== $dir $name ($fuzztime)"
    if ! "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir"; then
      failed+=("$dir $name")
    fi
  done
done < <("$go" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' "${pkgs[@]}")

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of $count targets failed:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "fuzz: $count targets ran $fuzztime each without a failure"
