"""Fields of a billing document that only its own buttons change.

Billing users edit runs and accountants edit accruals, but the fields that
record how far a document got and who approved it change only when a button
is pressed, and each button first checks who pressed it. A write or a create
that sets those fields directly, as RPC allows, raises an AccessError, so
the approval a document shows is one that happened.
"""

from odoo import _, api, models
from odoo.exceptions import AccessError


class BillingWorkflowMixin(models.AbstractModel):
    _name = "billing.workflow.mixin"
    _description = "Billing Workflow Fields"

    # {field name: the value a new document starts with}, set by each model.
    _workflow_fields = {}

    @api.model_create_multi
    def create(self, vals_list):
        for values in vals_list:
            self._check_workflow_write(
                [
                    name
                    for name, start in self._workflow_fields.items()
                    if name in values and (values[name] or False) != start
                ]
            )
        return super().create(vals_list)

    def write(self, vals):
        self._check_workflow_write(
            [name for name in self._workflow_fields if name in vals]
        )
        return super().write(vals)

    def _check_workflow_write(self, names):
        """Raise an AccessError naming the first of `names`, unless superuser."""
        if not names or self.env.su:
            return
        field = self._fields[names[0]]
        raise AccessError(
            _(
                "You cannot set %(label)s (%(field)s) of %(document)s directly. "
                "Use the buttons of the %(model)s, which check who may move it on "
                "or approve it.",
                label=field.string,
                field=field.name,
                document=", ".join(self.mapped("display_name"))
                or _("a new %s", self._description),
                model=self._description,
            )
        )

    def _write_workflow(self, values):
        """Write workflow fields for a button that has checked who pressed it."""
        return self.sudo().write(values)
