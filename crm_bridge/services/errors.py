"""The business error of a CRM record that a person resolves by linking."""

from odoo.addons.integration_audit.services.errors import BusinessError


class LinkableError(BusinessError):
    """A `BusinessError` about one external record that can be linked.

    `link` names that record: its `external_id`, its `external_model` and
    the Odoo `res_model` it is mapped to, so the exception's Link action
    maps exactly this record, whichever job raised the error.
    """

    def __init__(self, message, category, link, records=None, candidates=None):
        super().__init__(
            message, category=category, records=records, candidates=candidates
        )
        self.link = link
