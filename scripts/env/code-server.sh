#!/usr/bin/env bash
# A real VS Code for the extension tests and `npm start`: code-server from npm (no VS Code download is
# reachable here), Debian's chromium for the UI tests, and what code-server's install builds with.
# Output: $ENV_CACHE/code-server/node_modules/.bin/code-server (printed on the last line).
# A second run with the same version costs a second.
source "$(dirname "$0")/common.sh"

# code-server's postinstall refuses any Node major other than its own: 4.100.3 is the last for Node 20.
CODE_SERVER_VERSION=${CODE_SERVER_VERSION:-4.100.3}
CS_DIR="$ENV_CACHE/code-server"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"
stamp="$CS_DIR/.airflow-runtime-stamp"
started=$SECONDS

need=()
# chromium is for the UI tests; `npm start` asks for code-server alone (AIRFLOW_RUNTIME_BROWSER=0)
[ "${AIRFLOW_RUNTIME_BROWSER:-1}" = 0 ] || command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)   # the kerberos native module
for tool in g++ make python3; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -x "$CS_BIN" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$CODE_SERVER_VERSION" ]; then
  log "code-server $CODE_SERVER_VERSION is installed ($((SECONDS - started)) s)"
  echo "$CS_BIN"
  exit 0
fi

# The settings the install needs, whatever ~/.npmrc says.
export npm_config_unsafe_perm=true   # code-server's postinstall exits 1 as root otherwise
export npm_config_yes=true           # node-pty's postinstall runs `npx node-gyp`, which must not ask
if [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr     # node-gyp builds against the installed headers instead of downloading them
fi

# @vscode/ripgrep's postinstall downloads rg from GitHub, unless its download cache
# ($TMPDIR/vscode-ripgrep-cache-<version>/ripgrep-<tag>-<target>.tar.gz) already has it: seed it with Debian's rg.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "code-server@$CODE_SERVER_VERSION" >/dev/null)
rg_version=$(tar -xzOf "$work"/code-server-*.tgz package/lib/vscode/npm-shrinkwrap.json |
  node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).packages["node_modules/@vscode/ripgrep"].version)')
(cd "$work" && npm pack --silent "@vscode/ripgrep@$rg_version" >/dev/null)
rg_tag=$(tar -xzOf "$work"/vscode-ripgrep-*.tgz package/lib/postinstall.js | sed -n "s/^const VERSION = '\(.*\)';/\1/p")
rg_cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$rg_version"
mkdir -p "$rg_cache" "$work/rg"
cp "$(command -v rg)" "$work/rg/rg"
tar -czf "$rg_cache/ripgrep-$rg_tag-x86_64-unknown-linux-musl.tar.gz" -C "$work/rg" rg
log "seeded $rg_cache with Debian's rg (@vscode/ripgrep $rg_version, $rg_tag)"

log "installing code-server $CODE_SERVER_VERSION into $CS_DIR (a few minutes: native modules are built here)"
rm -f "$stamp"
mkdir -p "$CS_DIR"
[ -f "$CS_DIR/package.json" ] || echo '{"name":"airflow-runtime-code-server","private":true}' > "$CS_DIR/package.json"
if ! (cd "$CS_DIR" && npm install --no-fund --no-audit --foreground-scripts "code-server@$CODE_SERVER_VERSION" > "$CS_DIR/install.log" 2>&1); then
  tail -40 "$CS_DIR/install.log" >&2
  log "code-server install failed; full log: $CS_DIR/install.log"
  exit 1
fi
echo "$CODE_SERVER_VERSION" > "$stamp"
version=$(XDG_CONFIG_HOME="$work" XDG_DATA_HOME="$work" XDG_CACHE_HOME="$work" "$CS_BIN" --version 2>/dev/null | grep -E "^[0-9]+\." | head -1)
log "code-server $version installed in $((SECONDS - started)) s"
echo "$CS_BIN"
