# Shared settings of the suite's scripts; sourced, not run.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
SUITE_ADDONS=integration_audit,crm_bridge,psa_connector,billing_sync
TEST_ADDONS=integration_test_flows
ADDONS_PATH="$ROOT,$ROOT/tests/addons"
VAR_DIR="$ROOT/var"
mkdir -p "$VAR_DIR"

# Secrets are encrypted under a key from the environment; scripts that
# create throwaway databases make a throwaway key.
if [ -z "${INTEGRATION_SECRET_KEYS:-}" ]; then
    INTEGRATION_SECRET_KEYS=$("$PYTHON" -c \
        'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
    export INTEGRATION_SECRET_KEYS
fi

odoo() {
    "$PYTHON" -m odoo --addons-path="$ADDONS_PATH" "$@"
}
