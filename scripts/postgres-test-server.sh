#!/usr/bin/env bash
# Start a local PostgreSQL for the test suite's PostgreSQL pass and print its URL.
# Debian's packages, as root (CI and these machines): installs the server if it is
# missing, starts the cluster, and creates the role and database `vpp_test`.
# Elsewhere, point VPP_TEST_DATABASE_URL at a PostgreSQL you run yourself.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
	pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster "$version" main start >/dev/null 2>&1 || true  # "already running" is fine
for _ in $(seq 1 30); do
	pg_isready -q -h 127.0.0.1 -p 5432 && break
	sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p 5432
su postgres -c "psql -q -v ON_ERROR_STOP=1" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vpp_test') THEN
    CREATE ROLE vpp_test LOGIN PASSWORD 'vpp_test' CREATEDB;
  END IF;
END $$;
SELECT 'CREATE DATABASE vpp_test OWNER vpp_test'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'vpp_test')\gexec
SQL
echo "postgresql+psycopg://vpp_test:vpp_test@127.0.0.1:5432/vpp_test"
