#!/usr/bin/env bash
# Usage: run-stage.sh [FILE...]
# The kernel test stage: prepare.sh, then mocha inside the guest (stock Debian kernel under qemu) over
# the given compiled test files or globs, relative to the project root. Default: the kernel smoke test,
# which inside the guest runs guest-smoke.sh. Build first (npx tsc -p tsconfig.json). Tests can tell
# they run in the guest by NFQWALL_IN_GUEST=1. Exits with mocha's exit status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(cd "$here/../.." && pwd)"
cd "$project"

files=("$@")
# Default: the smoke test and the dataplane's integration tests that prove the native nft backend
# (seed scenario with per-flow offload, preDNAT before a real DNAT, doNotTrack, SIGHUP re-judging,
# fail-open/closed after SIGKILL, backend auto-detection).
[ "${#files[@]}" -gt 0 ] || files=(dist/test/kernel/kernel.test.js dist/test/integration/seed.test.js dist/test/integration/policy-classes.test.js dist/test/integration/reload.test.js dist/test/integration/fail-modes.test.js)
for f in "${files[@]}"; do
  case "$f" in *[*?[]*) continue ;; esac      # globs are mocha's to expand
  [ -e "$f" ] || { echo "run-stage: $f not found (build first: npx tsc -p tsconfig.json)" >&2; exit 2; }
done
[ -x node_modules/.bin/mocha ] || { echo "run-stage: node_modules/.bin/mocha missing (npm ci first)" >&2; exit 2; }

bash "$here/prepare.sh"
# The local mocha binary is what `npx mocha` would run; calling it directly skips loading npm's own
# CLI, which costs seconds under emulation and wants a writable npm cache.
exec bash "$here/run-in-guest.sh" node_modules/.bin/mocha --no-config --enable-source-maps --timeout 120000 "${files[@]}"
