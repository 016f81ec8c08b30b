#!/usr/bin/env bash
# Every test of the workspace on both backends, on a fresh machine of this project's kind:
# starts the machine's PostgreSQL when nothing answers at 127.0.0.1:5432 and installs
# Debian's Chromium (for the browser tests of the web pages) and Node.js with npm (for the
# OpenID provider the bearer-token tests run, which they install themselves with `npm ci`)
# when they are missing, then runs `cargo test --workspace` with any arguments given
# (`./test.sh -p insights`, say).
set -euo pipefail
cd "$(dirname "$0")"

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "test.sh: starting PostgreSQL"
  # pg_ctl (under pg_ctlcluster) waits until the server accepts connections.
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
fi
pg_isready -h 127.0.0.1 -p 5432

if [ -z "${TALLY_CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  echo "test.sh: installing Debian's chromium for the browser tests"
  apt-get update -qq
  apt-get install -y -qq chromium
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "test.sh: installing Debian's nodejs and npm for the OpenID provider of the bearer-token tests"
  apt-get update -qq
  apt-get install -y -qq nodejs npm
fi

exec cargo test --workspace "$@"
