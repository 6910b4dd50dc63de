#!/usr/bin/env bash
# `make demo`: a fresh database with the suite, the emulators, the firm's
# whole cycle and its summary; then Odoo keeps serving until Ctrl+C, unless
# DEMO_SERVE=0.
set -euo pipefail
source "$(dirname "$0")/suite_env.sh"
cd "$ROOT"

DB=${DEMO_DB:-integration_demo}
PORT=${DEMO_HTTP_PORT:-8069}
LOG="$VAR_DIR/demo-odoo.log"

echo "==> Creating database $DB and installing the suite (log: $LOG)"
dropdb --if-exists "$DB" >/dev/null 2>&1 || true
rm -rf "$VAR_DIR/filestore-$DB"
odoo -d "$DB" -i "$SUITE_ADDONS" --without-demo=all --data-dir "$VAR_DIR/filestore-$DB" \
    --stop-after-init --logfile "$LOG" --log-level=warn

exec "$PYTHON" tools/demo_cycle.py --db "$DB" --port "$PORT" --addons-path "$ADDONS_PATH" \
    --data-dir "$VAR_DIR/filestore-$DB" --log "$LOG" --summary "$VAR_DIR/demo-summary.json"
