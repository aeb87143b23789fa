#!/usr/bin/env bash
# Makes the project runnable on a fresh machine: installs node_modules when
# missing or older than package-lock.json, then checks that the project's own
# Node (the `node` dev dependency, node_modules/.bin/node) is >= 22.19.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$OUTBOXX_ROOT"

# npm writes node_modules/.package-lock.json on every install; when it is at
# least as new as the lock file (and package.json), node_modules is current.
node_modules_current() {
  local installed="node_modules/.package-lock.json"
  [[ -f "$installed" ]] || return 1
  if [[ -f package-lock.json ]]; then
    [[ ! package-lock.json -nt "$installed" ]]
  else
    [[ ! package.json -nt "$installed" ]]
  fi
}

if ! node_modules_current; then
  command -v npm >/dev/null 2>&1 || die "npm is required to install the project's dependencies"
  if [[ -f package-lock.json ]]; then
    say "installing dependencies (npm ci)"
    npm ci --no-audit --no-fund >&2
  else
    say "installing dependencies (npm install)"
    npm install --no-audit --no-fund >&2
  fi
fi

node_bin="$OUTBOXX_ROOT/node_modules/.bin/node"
[[ -x "$node_bin" ]] || die "$node_bin is missing (the 'node' dev dependency provides it)"
version="$("$node_bin" -p 'process.versions.node')"
IFS=. read -r major minor _ <<<"$version"
if ((major < 22 || (major == 22 && minor < 19))); then
  die "Node $version at $node_bin is too old; Outboxx needs >= 22.19"
fi
say "Node $version ($node_bin)"
