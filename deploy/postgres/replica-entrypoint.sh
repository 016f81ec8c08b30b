#!/bin/bash
# Entrypoint of the streaming replica (official postgres image). On the first start, with
# an empty data directory, it clones the primary with `pg_basebackup -R`, which also
# writes standby.signal and primary_conninfo; then, and on every later start, it hands
# over to the image's own entrypoint, which sees an existing cluster and starts it as a
# hot standby.
#
#   PRIMARY_HOST, PRIMARY_PORT (default 5432)
#   REPLICATION_USER (default replicator), REPLICATION_PASSWORD (required)
#   REPLICATION_SLOT (default replica1; also the standby's application_name, the name
#                    synchronous_standby_names refers to)
#
# Passwords go into a libpq connection string unquoted: use letters and digits only.
set -euo pipefail

: "${PRIMARY_HOST:?set PRIMARY_HOST}"
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
REPLICATION_SLOT="${REPLICATION_SLOT:-replica1}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    until gosu postgres pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do
        echo "replica: waiting for the primary at ${PRIMARY_HOST}:${PRIMARY_PORT}"
        sleep 2
    done
    echo "replica: cloning the primary"
    gosu postgres pg_basebackup \
        --dbname="host=${PRIMARY_HOST} port=${PRIMARY_PORT} user=${REPLICATION_USER} password=${REPLICATION_PASSWORD} application_name=${REPLICATION_SLOT}" \
        --pgdata="$PGDATA" \
        --wal-method=stream \
        --slot="$REPLICATION_SLOT" \
        --write-recovery-conf \
        --checkpoint=fast
    echo "replica: clone complete"
fi

exec docker-entrypoint.sh "$@"
