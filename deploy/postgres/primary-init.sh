#!/bin/bash
# Prepares the PostgreSQL primary for streaming replication. The official postgres image
# runs this once, from /docker-entrypoint-initdb.d/, when it initialises an empty data
# directory (never again on restarts, so changing the values later needs a fresh volume
# or the same statements run by hand).
#
#   REPLICATION_PASSWORD  password of the replication role (required)
#   REPLICATION_USER      its name (default replicator)
#   REPLICATION_SLOT      physical slot the replica streams from (default replica1); it
#                         keeps WAL the replica has not received yet, bounded by the
#                         primary's max_slot_wal_keep_size
set -euo pipefail

: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
REPLICATION_SLOT="${REPLICATION_SLOT:-replica1}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v user="$REPLICATION_USER" -v password="$REPLICATION_PASSWORD" -v slot="$REPLICATION_SLOT" <<'SQL'
CREATE ROLE :"user" WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot(:'slot');
SQL

# Replication connections match only lines whose database is `replication`, never `all`.
echo "host replication ${REPLICATION_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
echo "replication: role ${REPLICATION_USER} and slot ${REPLICATION_SLOT} created"
