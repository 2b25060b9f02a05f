#!/usr/bin/env bash
# Installs the pinned clients (idempotent): Debian's chromium (for the dashboard's browser
# tests), redis-server (for the cluster tests) and postgresql (for durable subscriptions), node/node_modules from the lockfile
# (socket.io-client, playwright-core, socket.io with its Redis adapter) and python/.venv
# from requirements.txt. Re-installs when the lockfile / requirements change.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Debian's Chromium for the dashboard's browser tests (driven by playwright-core, which
# downloads no browser of its own).
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "setup.sh: /usr/bin/chromium is missing and cannot be installed here: apt-get install -y chromium" >&2
  fi
fi

# Debian's redis-server: the cluster tests start their own on a free port (never the
# system's service).
if ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  else
    echo "setup.sh: redis-server is missing and cannot be installed here: apt-get install -y redis-server" >&2
  fi
fi

# Debian's PostgreSQL: the durable-subscription tests start their own cluster (initdb,
# pg_ctl) in a temporary directory on a free port (never the system's service). Debian
# keeps the tools in /usr/lib/postgresql/<version>/bin; the tests look there too.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  else
    echo "setup.sh: initdb is missing and cannot be installed here: apt-get install -y postgresql" >&2
  fi
fi

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
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt >&2
  cp requirements.txt .venv/.setup-stamp
fi
