#!/usr/bin/env bash
# `make demo`: a fresh database with the suite, the emulators, the firm's
# whole cycle and its summary; then Odoo keeps serving until Ctrl+C, unless
# DEMO_SERVE=0.
#
# Settings: DEMO_DB (database, default integration_demo), DEMO_HTTP_PORT
# (default 8069), DEMO_GEVENT_PORT (Odoo's websocket port, default 8072),
# DEMO_SERVE (0 exits after the summary). An existing database named
# DEMO_DB is dropped.
set -euo pipefail
source "$(dirname "$0")/suite_env.sh"
cd "$ROOT"

DB=${DEMO_DB:-integration_demo}
PORT=${DEMO_HTTP_PORT:-8069}
GEVENT_PORT=${DEMO_GEVENT_PORT:-8072}
LOG="$VAR_DIR/demo-odoo.log"
DATA_DIR="$VAR_DIR/filestore-$DB"
started=$SECONDS
# demo_cycle.py reports the whole run, installation included, from here.
export DEMO_STARTED_AT=${DEMO_STARTED_AT:-$(date +%s)}

echo "==> Dropping any database named $DB, then creating it and installing the suite (log: $LOG)"
if ! dropdb --if-exists "$DB"; then
    echo "Database $DB cannot be dropped: stop the Odoo server that uses it" \
        "(an earlier make demo?), or choose another name with DEMO_DB." >&2
    exit 1
fi
rm -rf "$DATA_DIR"
: > "$LOG"
odoo -d "$DB" -i "$SUITE_ADDONS" --without-demo=all --data-dir "$DATA_DIR" \
    --stop-after-init --logfile "$LOG" --log-level=warn
echo "    installed in $((SECONDS - started)) s"

exec "$PYTHON" tools/demo_cycle.py --db "$DB" --port "$PORT" \
    --gevent-port "$GEVENT_PORT" \
    --addons-path "$ADDONS_PATH" --data-dir "$DATA_DIR" --log "$LOG" \
    --summary "$VAR_DIR/demo-summary.json"
