#!/usr/bin/env bash
# `make test`: lint, install the suite in a throwaway database, run Odoo's own
# tests of the addons the suite extends, then the suite's tests with pytest.
set -uo pipefail
source "$(dirname "$0")/suite_env.sh"
cd "$ROOT"

DB=${TEST_DB:-integration_test_$$}
HTTP_PORT=${TEST_HTTP_PORT:-8169}
ODOO_LOG="$VAR_DIR/$DB-odoo.log"
ODOO_TEST_TAGS=${ODOO_TEST_TAGS:-/sale_timesheet,/hr_timesheet,/crm}
failed=0

cleanup() {
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    rm -rf "$VAR_DIR/filestore-$DB"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }

step "Checking the browser the tours need"
if ! command -v chromium >/dev/null 2>&1 || ! "$PYTHON" -c 'import websocket' 2>/dev/null; then
    echo "Chromium (Debian package 'chromium') and the websocket-client package are" >&2
    echo "required: Odoo would skip the browser tours without them." >&2
    exit 2
fi

step "Linting"
tools/lint.sh || failed=1

step "Installing the suite in $DB and running Odoo's tests ($ODOO_TEST_TAGS)"
dropdb --if-exists "$DB" >/dev/null 2>&1
started=$(date +%s)
odoo -d "$DB" -i "$SUITE_ADDONS,$TEST_ADDONS" --test-enable --test-tags "$ODOO_TEST_TAGS" \
    --http-port "$HTTP_PORT" --data-dir "$VAR_DIR/filestore-$DB" \
    --stop-after-init --log-level=info --logfile "$ODOO_LOG"
rc=$?
grep -E "^.* (ERROR|CRITICAL) " "$ODOO_LOG" | head -40
grep -E "odoo.tests.result: .*tests" "$ODOO_LOG" | tail -1
echo "Install and Odoo tests took $(( $(date +%s) - started )) s (log: $ODOO_LOG)"
if [ $rc -ne 0 ] || grep -qE " (ERROR|CRITICAL) " "$ODOO_LOG"; then
    echo "FAILED: installing the suite or Odoo's own tests (see $ODOO_LOG)" >&2
    failed=1
fi

step "Running the suite's tests with pytest"
cat > "$VAR_DIR/$DB.conf" <<CONF
[options]
addons_path = $(cd "$("$PYTHON" -c 'import odoo, os; print(os.path.dirname(odoo.__file__))')" && pwd)/addons,$ADDONS_PATH
data_dir = $VAR_DIR/filestore-$DB
db_name = $DB
CONF
"$PYTHON" -m pytest -p no:cacheprovider --odoo-database "$DB" --odoo-config "$VAR_DIR/$DB.conf" \
    --odoo-http --odoo-log-level=warn \
    integration_audit crm_bridge psa_connector billing_sync tests "$@"
rc=$?
if [ $rc -ne 0 ]; then
    failed=1
fi

if [ $failed -ne 0 ]; then
    echo "make test: FAILED" >&2
    exit 1
fi
echo "make test: all steps passed"
