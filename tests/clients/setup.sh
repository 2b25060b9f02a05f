#!/usr/bin/env bash
# Installs the pinned clients (idempotent): node/node_modules from the lockfile and
# python/.venv from requirements.txt. Re-installs when the lockfile / requirements change.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if command -v node >/dev/null 2>&1; then
  cd "$here/node"
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.setup-stamp; then
    npm ci --no-audit --no-fund --loglevel=error >&2
    cp package-lock.json node_modules/.setup-stamp
  fi
else
  echo "setup.sh: node not found, skipping the Node client" >&2
fi

cd "$here/python"
if [ ! -x .venv/bin/python ] || ! cmp -s requirements.txt .venv/.setup-stamp; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt >&2
  cp requirements.txt .venv/.setup-stamp
fi
