"""Exception categories of the CRM bridge and how a person resolves them.

Most CRM problems are resolved by linking: the person picks the Odoo
record an external record stands for, `_link_record` maps the external id
to it, and the job is retried. The exception remembers which external
record it is about (`link_external_id`), because that is not always the
job's own record: a deal can fail because its company matched two
partners.
"""

from odoo import _, api, fields, models
from odoo.addons.integration_audit.models.integration_exception import title_from
from odoo.exceptions import UserError

CRM_CATEGORIES = [
    ("ambiguous_partner", "Several partners match"),
    ("possible_duplicate", "Possible duplicate partner"),
    ("unmatched_partner", "No partner matches"),
    ("crm_merge", "Records merged in the CRM"),
    ("update_on_archived", "Update of an archived partner"),
    ("invalid_vat", "Invalid tax ID"),
    ("archived_customer", "Won deal for an archived customer"),
    ("missing_customer", "Won deal without a company"),
    ("unknown_stage", "Unknown deal stage"),
    ("unknown_product", "Unmapped product"),
    ("invalid_currency", "Unknown or inactive currency"),
    ("deal_changed", "Deal changed after ordering"),
    ("deal_reopened", "Deal reopened or lost after ordering"),
    ("deal_deleted", "Deal deleted after ordering"),
    ("crm_auth", "CRM authentication failed"),
]

# Categories resolved by mapping the external record to a chosen record.
LINKABLE_CATEGORIES = (
    "ambiguous_partner",
    "possible_duplicate",
    "unmatched_partner",
    "archived_customer",
    "unknown_product",
    "crm_merge",
)

IMPACT_BY_CATEGORY = {
    "archived_customer": "high",
    "missing_customer": "high",
    "unknown_stage": "high",
    "unknown_product": "high",
    "invalid_currency": "high",
    "deal_reopened": "high",
    "deal_deleted": "high",
    "crm_auth": "critical",
    "update_on_archived": "low",
    "invalid_vat": "low",
}


class IntegrationException(models.Model):
    _inherit = "integration.exception"

    category = fields.Selection(
        selection_add=CRM_CATEGORIES,
        ondelete={key: "set default" for key, _label in CRM_CATEGORIES},
    )
    link_external_id = fields.Char(
        string="External record",
        help="ID in the external system of the record a link maps.",
    )
    link_external_model = fields.Char(string="External object type")
    link_res_model = fields.Char(
        string="Odoo model of the link",
        help="Model the external record is mapped to once linked.",
    )
    crm_create_new = fields.Boolean(
        string="Create a new record",
        readonly=True,
        help="Set by Create New: the retried job creates a record instead of "
        "matching an existing one.",
    )

    @api.model
    def _impact_of(self, category):
        """Return the default impact of the CRM bridge's categories."""
        return IMPACT_BY_CATEGORY.get(category) or super()._impact_of(category)

    @api.model
    def _open_from_error(self, job, error):
        """Store which external record a linkable error is about."""
        exception = super()._open_from_error(job, error)
        link = getattr(error, "link", None)
        if link:
            exception._crm_set_link(link)
        return exception

    def _crm_set_link(self, link, candidates=None):
        """Remember which external record a Link maps, and its candidates."""
        self.ensure_one()
        self.write(
            {
                "link_external_id": link["external_id"],
                "link_external_model": link.get("external_model"),
                "link_res_model": link["res_model"],
                "candidate_model": link["res_model"],
            }
        )
        if candidates:
            self._set_candidates(candidates)

    @api.model
    def _open_review(self, backend, category, message, records=None, dedup_key=None):
        """Open an exception for a person to review, without failing any job.

        Used where the sync succeeded but did something a person should
        check, such as updating an archived partner. No job is attached,
        because a finished job resolves its open exceptions.
        """
        values = {
            "name": title_from(message),
            "description": message,
            "category": category,
            "impact": self._impact_of(category),
            "backend_id": backend.id,
            "company_id": backend.company_id.id,
            "dedup_key": dedup_key,
        }
        if records:
            values.update(res_model=records._name, res_id=records[:1].id)
        return self._open(values)

    def _link_record(self, target):
        """Map the exception's external record to `target`."""
        if self.category not in LINKABLE_CATEGORIES:
            return super()._link_record(target)
        if not (self.link_external_id and self.backend_id):
            raise UserError(
                _(
                    "Exception %(name)s does not say which external record to link. "
                    "Retry the job instead.",
                    name=self.display_name,
                )
            )
        if target._name != self.link_res_model:
            raise UserError(
                _(
                    "Exception %(name)s links a %(expected)s record; %(record)s is "
                    "not one.",
                    name=self.display_name,
                    expected=self.link_res_model,
                    record=target.display_name,
                )
            )
        self.env["integration.external.id"]._crm_link(
            self.backend_id,
            target,
            self.link_external_id,
            external_model=self.link_external_model,
        )

    def action_crm_create_new(self):
        """Retry the job, creating a new partner instead of matching one."""
        for exception in self:
            if exception.category not in ("ambiguous_partner", "possible_duplicate"):
                raise UserError(
                    _(
                        "Create New applies to partner matches only; exception "
                        "%(name)s is of another kind.",
                        name=exception.display_name,
                    )
                )
            exception.crm_create_new = True
            exception.message_post(
                body=_(
                    "%(user)s chose to create a new partner.", user=self.env.user.name
                )
            )
            exception.action_retry()
        return True
