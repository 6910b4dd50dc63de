#!/usr/bin/env bash
# Stop early, with the fix, when Odoo 18.0 or PostgreSQL is missing.
set -u
PYTHON=${PYTHON:-python3}

version=$("$PYTHON" -c 'import odoo.release as r; print(r.serie)' 2>/dev/null)
if [ -z "$version" ]; then
    echo "Odoo is not importable by $PYTHON." >&2
    echo "Install Odoo 18.0 from source (pip install -e <odoo source folder>)" >&2
    echo "or run these commands inside an Odoo 18.0 image." >&2
    exit 2
fi
if [ "$version" != "18.0" ]; then
    echo "Odoo $version found; the suite needs Odoo 18.0." >&2
    exit 2
fi
if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    echo "PostgreSQL is not reachable (tried psql -d postgres with PGHOST=${PGHOST:-<socket>}," >&2
    echo "PGUSER=${PGUSER:-$USER}). Start it, or set PGHOST, PGPORT, PGUSER and PGPASSWORD." >&2
    exit 2
fi
