#!/usr/bin/env bash
# ruff for upgrade-check's static findings: fetched by the product's own code (src/core/upgrade/ruff.ts: the pinned
# version, the hash of each platform's wheel) into our cache, as a user's first upgrade-check would; nothing to do
# when that version is there.
source "$(dirname "$0")/common.sh"

cd "$REPO_ROOT"
[ -d node_modules/tsx ] || { log "node_modules/tsx missing: run npm ci first"; exit 1; }
ruff=$(node --import tsx -e "import('./src/core/upgrade/ruff.ts').then((m) => (m.ensureRuff ?? m.default.ensureRuff)()).then((p) => console.log(p))")
log "ruff for upgrade-check: $("$ruff" --version) ($ruff)"
