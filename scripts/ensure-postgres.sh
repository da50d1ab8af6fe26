#!/usr/bin/env bash
# Install PostgreSQL 15, pg_cron, plpgsql_check and chromium (the console's browser
# test drives it through Playwright) from Debian's packages when they are missing.
# Root installs them with apt; anyone else is told what to install.
set -euo pipefail

bindir=/usr/lib/postgresql/15/bin
libdir=/usr/lib/postgresql/15/lib
missing=()
[ -x "$bindir/postgres" ] && [ -x "$bindir/initdb" ] || missing+=(postgresql-15)
[ -f "$libdir/pg_cron.so" ] || missing+=(postgresql-15-cron)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# plpgsql_check: `make test` and `opsdb lint --database-url` check every PL/pgSQL function with it.
[ -f "$libdir/plpgsql_check.so" ] || missing+=(postgresql-15-plpgsql-check)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "opsdb needs: ${missing[*]} (Debian packages). Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# Debian's package starts a default cluster on 5432; opsdb runs its own, so stop
# that one if the package started it (it is not needed and would hold memory).
if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1, $2}' | while read -r ver name; do
        pg_ctlcluster "$ver" "$name" stop || true
    done
fi
