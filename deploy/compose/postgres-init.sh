#!/usr/bin/env bash
# One database per Tongxin service, owned by POSTGRES_USER. The postgres image runs this
# once, on an empty data directory; TONGXIN_DATABASES lists the databases (space-separated).
# Safe to run again: a database that exists is left alone.
set -euo pipefail

for database in ${TONGXIN_DATABASES:?set TONGXIN_DATABASES, e.g. "volunteers"}; do
  if [[ ! "$database" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
    echo "postgres-init: refusing database name '$database'" >&2
    exit 1
  fi
  psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
    --dbname "${POSTGRES_DB:-$POSTGRES_USER}" --set=database="$database" \
    --set=owner="$POSTGRES_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')\gexec
SQL
  echo "postgres-init: database $database ready"
done
