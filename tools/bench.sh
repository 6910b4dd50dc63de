#!/usr/bin/env bash
# `make bench`: install the suite in a throwaway database, then print each
# speed figure as `name: value`, ratios first (see docs/BENCHMARKS.md).
# Extra arguments go to `python3 -m tests.bench`, for example `--only queue`.
set -uo pipefail
source "$(dirname "$0")/suite_env.sh"
cd "$ROOT"

DB=${BENCH_DB:-integration_bench_$$}
HTTP_PORT=${BENCH_HTTP_PORT:-8269}
ODOO_LOG="$VAR_DIR/$DB-odoo.log"

created=0
cleanup() {
    # A database given in BENCH_DB that already had the suite is kept.
    if [ $created -eq 1 ] && [ -z "${BENCH_KEEP_DB:-}" ]; then
        dropdb --if-exists "$DB" >/dev/null 2>&1 || true
        rm -rf "$VAR_DIR/filestore-$DB"
    fi
}
trap cleanup EXIT

installed=$(psql -X -Atq -d "$DB" -c "SELECT 1 FROM ir_module_module
    WHERE name = 'integration_test_flows' AND state = 'installed'" 2>/dev/null)
if [ "$installed" = 1 ]; then
    # A kept database is updated, so its tables match the code.
    action=(-u "$SUITE_ADDONS,$TEST_ADDONS")
else
    dropdb --if-exists "$DB" >/dev/null 2>&1
    created=1
    action=(-i "$SUITE_ADDONS,$TEST_ADDONS" --without-demo=all)
fi
echo "==> Preparing $DB (log: $ODOO_LOG)" >&2
if ! odoo -d "$DB" "${action[@]}" --http-port "$HTTP_PORT" \
    --data-dir "$VAR_DIR/filestore-$DB" --stop-after-init --log-level=warn \
    --logfile "$ODOO_LOG"; then
    echo "make bench: installing the suite failed (see $ODOO_LOG)" >&2
    exit 1
fi

echo "==> Benchmarks on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PYTHON" -m tests.bench --db "$DB" --addons-path "$ADDONS_PATH" \
    --http-port "$HTTP_PORT" --data-dir "$VAR_DIR/filestore-$DB" \
    --json "$VAR_DIR/bench-figures.json" "$@"
