#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for the tests, on 127.0.0.1 only, in
# a fresh folder, and prints the variables to use it:
#   eval "$(./scripts/postgres.sh start)"   sets AIRLOCK_TEST_POSTGRES and
#                                           AIRLOCK_TEST_POSTGRES_DIR
#   ./scripts/postgres.sh stop DIR          stops it and removes DIR
# Debian's postgresql package provides the server binaries; scripts/test
# installs it when missing. The cluster trusts local connections only, and
# listens on no public address.
set -euo pipefail
case "${1:-}" in
start)
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres: error: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
    exit 1
  fi
  dir=$(mktemp -d /tmp/airlock-pg.XXXXXX)
  chmod 755 "$dir"
  # The first free port from 55432 (another cluster may hold one).
  port=${AIRLOCK_TEST_POSTGRES_PORT:-}
  if [ -z "$port" ]; then
    for p in $(seq 55432 55531); do
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
    done
  fi
  run() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
  run "'$bin/initdb' -D '$dir/data' -A trust -U airlock --no-sync" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  run "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=on\" start" >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "export AIRLOCK_TEST_POSTGRES='postgres://airlock@127.0.0.1:$port/postgres?sslmode=disable'"
  echo "export AIRLOCK_TEST_POSTGRES_DIR='$dir'"
  ;;
stop)
  dir=${2:?usage: postgres.sh stop DIR}
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null 2>&1 || true
  else
    "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: postgres.sh start | stop DIR" >&2
  exit 2
  ;;
esac
