#!/usr/bin/env bash
# ruff, ruff-format and pylint-odoo's mandatory checks over the suite.
set -uo pipefail
source "$(dirname "$0")/suite_env.sh"
cd "$ROOT"
status=0
"$PYTHON" -m ruff check . || status=1
"$PYTHON" -m ruff format --check . || status=1
"$PYTHON" -m pylint --rcfile=.pylintrc-mandatory integration_audit crm_bridge \
    psa_connector billing_sync || status=1
exit $status
