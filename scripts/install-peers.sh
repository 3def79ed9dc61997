#!/usr/bin/env sh
# Install the foreign protocol peers the integration tests talk to (tests/peers, npm `smpp`).
# Idempotent: does nothing when node_modules matches package-lock.json.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
peers="$here/tests/peers"
stamp="$peers/node_modules/.package-lock.json"

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed: the SMPP peer tests need Node.js 18+ and npm." >&2
    exit 1
fi

# npm writes node_modules/.package-lock.json on every install; newer than the lock file means
# the installed tree is the locked one.
if [ -f "$stamp" ] && [ -d "$peers/node_modules/smpp" ] && [ ! "$peers/package-lock.json" -nt "$stamp" ]; then
    exit 0
fi

npm ci --prefix "$peers" --no-audit --no-fund --loglevel=error
