#!/usr/bin/env bash
# The local runtime emulator's sandbox: Debian's bubblewrap, and a check that this kernel lets it make
# user and network namespaces (the tests of the local engine's isolation need both).
source "$(dirname "$0")/common.sh"

if ! command -v bwrap >/dev/null 2>&1; then
  log "installing bubblewrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
if bwrap --ro-bind / / --dev /dev --proc /proc --unshare-net --die-with-parent true; then
  log "bubblewrap $(bwrap --version | awk '{print $2}') makes namespaces here"
else
  log "bubblewrap cannot make namespaces on this machine: the local emulator will run unsandboxed"
  exit 1
fi
