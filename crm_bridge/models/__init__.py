"""Models of the crm_bridge addon."""

from . import (
    account_move,
    crm_bridge_deal_push,
    crm_bridge_deal_sync,
    crm_bridge_link_mixin,
    crm_bridge_partner_sync,
    crm_bridge_pipeline,
    crm_bridge_sync,
    crm_bridge_token,
    integration_backend,
    integration_backend_auth,
    integration_backend_poll,
    integration_exception,
    integration_external_id,
    integration_sync_job,
    project_project,
    res_partner,
    sale_order,
)
