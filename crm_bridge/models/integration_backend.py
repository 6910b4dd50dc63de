"""CRM settings of a HubSpot or Salesforce backend, and its manual actions."""

from odoo import _, api, fields, models
from odoo.addons.integration_audit.services import secrets
from odoo.addons.integration_audit.services.errors import IntegrationError
from odoo.exceptions import AccessError, UserError

from ..services.hubspot_client import HubSpotClient
from ..services.salesforce_client import SalesforceClient

CRM_KINDS = ("hubspot", "salesforce")
OWNER_SELECTION = [("crm", "CRM"), ("odoo", "Odoo")]

# Flows whose watermark the pollers keep, per kind: one per polled object.
POLL_FLOWS = {
    "hubspot": (
        "hubspot.poll.companies",
        "hubspot.poll.contacts",
        "hubspot.poll.deals",
    ),
    "salesforce": (
        "salesforce.poll.Account",
        "salesforce.poll.Contact",
        "salesforce.poll.Opportunity",
        "salesforce.deleted.Account",
        "salesforce.deleted.Contact",
        "salesforce.deleted.Opportunity",
    ),
}


class IntegrationBackend(models.Model):
    _inherit = "integration.backend"

    crm_sync_companies = fields.Boolean(
        string="Sync companies",
        default=True,
        help="Import HubSpot companies or Salesforce accounts as company partners.",
    )
    crm_sync_contacts = fields.Boolean(
        string="Sync contacts",
        default=True,
        help="Import contacts as persons under their company partner.",
    )
    crm_sync_deals = fields.Boolean(
        string="Sync won deals",
        default=True,
        help="Turn won deals or opportunities into confirmed sale orders.",
    )
    crm_auto_create_partners = fields.Boolean(
        string="Create unmatched partners",
        default=True,
        help="Create a partner when no existing one matches. When off, an "
        "unmatched record opens an exception for a person to link.",
    )
    crm_owner_names = fields.Selection(
        OWNER_SELECTION,
        string="Names and addresses owned by",
        default="crm",
        required=True,
        help="System of record for names, addresses, e-mails, phones and "
        "websites. The other side never overwrites them; it only fills empty fields, "
        "and conflicting changes are logged on the partner.",
    )
    crm_owner_billing = fields.Selection(
        OWNER_SELECTION,
        string="Billing and tax data owned by",
        default="odoo",
        required=True,
        help="System of record for tax ids and company registry numbers.",
    )
    crm_vat_field = fields.Char(
        string="Tax ID field",
        help="HubSpot company property or Salesforce Account field holding the "
        "tax id, such as vat_number or VAT_Number__c. Leave empty when the CRM stores "
        "none.",
    )
    crm_default_product_id = fields.Many2one(
        "product.product",
        string="Default service product",
        default=lambda self: self.env.ref(
            "crm_bridge.product_crm_deal_service", raise_if_not_found=False
        ),
        domain=[("type", "=", "service")],
        help="Product of the single order line made for a won deal that has "
        "no line items; its price is the deal amount.",
    )
    crm_poll_interval = fields.Integer(
        string="Polling interval (min)",
        compute="_compute_crm_poll_interval",
        inverse="_inverse_crm_poll_interval",
        help="Minutes between two polls of each CRM object. Webhooks still "
        "arrive in real time; polling catches what a webhook missed.",
    )
    crm_pipeline_ids = fields.One2many(
        "crm.bridge.pipeline", "backend_id", string="Deal pipelines"
    )
    crm_portal_url = fields.Char(
        string="CRM web address",
        help="Address of the CRM's web interface used to build record links, "
        "such as https://app.hubspot.com or https://acme.lightning.force.com.",
    )

    hubspot_auth_flow = fields.Selection(
        [("private_app", "Private app token"), ("oauth", "OAuth refresh token")],
        string="HubSpot authentication",
        default="private_app",
    )
    salesforce_auth_flow = fields.Selection(
        [
            ("client_credentials", "OAuth client credentials"),
            ("jwt_bearer", "OAuth JWT bearer"),
        ],
        string="Salesforce authentication",
        default="client_credentials",
    )
    salesforce_username = fields.Char(
        help="Salesforce user the JWT bearer flow signs in as (the `sub` claim)."
    )
    salesforce_audience = fields.Char(
        string="JWT audience",
        help="Login URL the JWT is addressed to: https://login.salesforce.com "
        "for production, https://test.salesforce.com for sandboxes.",
    )
    salesforce_private_key = fields.Text(
        string="JWT private key",
        compute="_compute_salesforce_private_key",
        inverse="_inverse_salesforce_private_key",
        help="PEM RSA private key of the connected app; stored encrypted and "
        "never shown again once saved.",
    )
    salesforce_private_key_encrypted = fields.Text(
        groups="base.group_system", copy=False
    )
    salesforce_api_version = fields.Char(
        string="Salesforce API version", default="v60.0"
    )
    salesforce_instance_url = fields.Char(
        compute="_compute_crm_token",
        compute_sudo=True,
        help="API host the last token response named; the base URL is used "
        "until the first token.",
    )
    crm_token_expires_at = fields.Datetime(
        string="CRM token expires",
        compute="_compute_crm_token",
        compute_sudo=True,
        help="Expiry of the current OAuth access token, when the CRM announced one.",
    )
    salesforce_multicurrency = fields.Boolean(
        string="Multi-currency org",
        help="The org has multiple currencies enabled, so opportunities carry "
        "CurrencyIsoCode. Leave off otherwise: the field does not exist then.",
    )

    @api.depends("flow_ids.interval_minutes", "kind")
    def _compute_crm_poll_interval(self):
        for backend in self:
            flows = backend.flow_ids.filtered(
                lambda flow, backend=backend: (
                    flow.code in POLL_FLOWS.get(backend.kind, ())
                )
            )
            backend.crm_poll_interval = flows[:1].interval_minutes or 15

    def _inverse_crm_poll_interval(self):
        for backend in self.filtered(lambda backend: backend.kind in CRM_KINDS):
            for code in POLL_FLOWS[backend.kind]:
                backend._get_flow(code).interval_minutes = backend.crm_poll_interval

    def _compute_crm_token(self):
        for backend in self:
            row = (
                backend._crm_token_row()
                if backend.id
                else backend.env["crm.bridge.token"]
            )
            backend.salesforce_instance_url = row.instance_url
            backend.crm_token_expires_at = row.expires_at

    @api.depends("salesforce_private_key_encrypted")
    @api.depends_context("uid")
    def _compute_salesforce_private_key(self):
        for backend in self:
            stored = backend.sudo().salesforce_private_key_encrypted
            backend.salesforce_private_key = "********" if stored else False

    def _inverse_salesforce_private_key(self):
        for backend in self:
            value = backend.salesforce_private_key
            if value == "********":
                continue
            encrypted = secrets.encrypt(value) if value else False
            backend.sudo().salesforce_private_key_encrypted = encrypted

    def _crm_private_key(self):
        """Return the clear PEM key of the JWT bearer flow, or False."""
        self.ensure_one()
        encrypted = self.sudo().salesforce_private_key_encrypted
        return secrets.decrypt(encrypted) if encrypted else False

    def _is_crm(self):
        return self.kind in CRM_KINDS

    def _crm_client(self, job=None):
        """Return the API client of this backend's CRM, bound to `job`."""
        self.ensure_one()
        if not self._is_crm():
            raise UserError(_("Backend %(name)s is not a CRM.", name=self.display_name))
        client_class = HubSpotClient if self.kind == "hubspot" else SalesforceClient
        return client_class(self, job=job)

    def _crm_owner_of(self, group):
        """Return "crm" or "odoo": who owns field group `group`."""
        self.ensure_one()
        return self.crm_owner_billing if group == "billing" else self.crm_owner_names

    def action_crm_sync_now(self):
        """Poll every enabled CRM object of this backend now and wake the queue.

        Integration managers may poll although they cannot write backends,
        because the poll stores jobs and watermarks with superuser rights.
        """
        self.check_access("read")
        manager = self.env.user.has_group("integration_audit.group_integration_manager")
        if not (self.env.su or manager):
            raise AccessError(
                _(
                    "Only integration managers can poll a CRM now. Ask an "
                    "integration administrator to add %s to the Manager group.",
                    self.env.user.name,
                )
            )
        for backend in self:
            backend._crm_call_for_user(backend._crm_poll, force=True)
        self.env["integration.sync.job"]._wake_worker()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _("Changes since the last poll are queued."),
            },
        }

    def action_crm_load_pipelines(self):
        """Read the deal pipelines and their stages from HubSpot."""
        self.check_access("write")
        Pipeline = self.env["crm.bridge.pipeline"]
        for backend in self:
            backend._crm_call_for_user(Pipeline._load_from_hubspot, backend)
        return True

    def action_crm_ensure_properties(self):
        """Create the deal properties the invoice status is written to."""
        self.check_access("write")
        Push = self.env["crm.bridge.deal.push"]
        for backend in self:
            backend._crm_call_for_user(Push._ensure_remote_fields, backend)
        return True

    def _crm_call_for_user(self, function, *args, **kwargs):
        """Call `function` for a button; show a sync failure as a user error."""
        if not self._is_crm():
            raise UserError(_("Backend %(name)s is not a CRM.", name=self.display_name))
        try:
            return function(*args, **kwargs)
        except IntegrationError as error:
            raise UserError(
                _(
                    "%(backend)s: %(error)s What was stored before the failure is "
                    "kept; try again once the cause is fixed.",
                    backend=self.display_name,
                    error=error,
                )
            ) from error
