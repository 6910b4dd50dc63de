"""Partner matching keys, phone checks and field ownership of CRM syncs.

The stored keys (`crm_vat_key`, `crm_name_key`, `crm_phone_e164`...) hold
each partner's tax id, name and phone numbers in normal form, so the
matcher finds a partner whatever spelling it was typed in, including
partners that existed before the first sync.

Field ownership is enforced here, in `write`, for writes the CRM sync
makes (marked by the `crm_sync_backend_id` context key): a field owned by
the other side is never overwritten, an empty field is always filled, and
a conflicting change is posted in the partner's chatter.
"""

from markupsafe import Markup, escape

from odoo import _, api, fields, models

from ..services import normalize

# Field group of each partner field the CRM sync writes.
OWNED_FIELDS = {
    "name": "names",
    "street": "names",
    "street2": "names",
    "city": "names",
    "zip": "names",
    "state_id": "names",
    "country_id": "names",
    "email": "names",
    "phone": "names",
    "mobile": "names",
    "website": "names",
    "function": "names",
    "vat": "billing",
    "company_registry": "billing",
}


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "crm.bridge.link.mixin"]

    crm_vat_key = fields.Char(
        string="Tax ID (normal form)",
        compute="_compute_crm_keys",
        store=True,
        index=True,
    )
    crm_name_key = fields.Char(
        string="Name (normal form)", compute="_compute_crm_keys", store=True, index=True
    )
    crm_phone_e164 = fields.Char(
        string="Phone (E.164)", compute="_compute_crm_phones", store=True, index=True
    )
    crm_mobile_e164 = fields.Char(
        string="Mobile (E.164)", compute="_compute_crm_phones", store=True, index=True
    )
    crm_phone_unparsable = fields.Boolean(
        string="Unreadable phone number",
        compute="_compute_crm_phones",
        store=True,
        help="The phone or mobile number cannot be read as a number of the "
        "partner's country. It is kept as typed; correct it by hand.",
    )

    @api.depends("vat", "name", "country_id.code")
    def _compute_crm_keys(self):
        for partner in self:
            vat = normalize.normalize_vat(partner.vat, partner.country_id.code)
            partner.crm_vat_key = vat.value if vat else False
            partner.crm_name_key = normalize.name_key(partner.name)

    @api.depends("phone", "mobile", "country_id.code", "parent_id.country_id.code")
    def _compute_crm_phones(self):
        for partner in self:
            region = partner._crm_phone_region()
            partner.crm_phone_e164 = normalize.normalize_phone(partner.phone, region)
            partner.crm_mobile_e164 = normalize.normalize_phone(partner.mobile, region)
            partner.crm_phone_unparsable = bool(
                (partner.phone and not partner.crm_phone_e164)
                or (partner.mobile and not partner.crm_mobile_e164)
            )

    def write(self, vals):
        backend = self._crm_sync_backend()
        if backend and len(self) == 1:
            vals = self._crm_apply_ownership(backend, vals)
        return super().write(vals)

    def _crm_phone_region(self):
        country = (
            self.country_id or self.parent_id.country_id or self.env.company.country_id
        )
        return country.code

    def _crm_sync_backend(self):
        backend_id = self.env.context.get("crm_sync_backend_id")
        return (
            self.env["integration.backend"].browse(backend_id) if backend_id else None
        )

    # ------------------------------------------------------------------
    # Field ownership
    # ------------------------------------------------------------------

    def _crm_comparable(self, fname, value):
        """Return `value` of field `fname` in the form two sides compare in."""
        if isinstance(value, models.BaseModel):
            value = value.id
        if not value:
            return False
        if fname == "email":
            return normalize.normalize_email(value) or value.strip()
        if fname in ("phone", "mobile"):
            return (
                normalize.normalize_phone(value, self._crm_phone_region())
                or value.strip()
            )
        if fname == "website":
            return normalize.website_domain(value) or value.strip()
        if fname == "vat":
            vat = normalize.normalize_vat(value, self.country_id.code)
            return vat.value if vat else False
        return value.strip() if isinstance(value, str) else value

    def _crm_synced_comparables(self, vals):
        """Return the comparable form of the owned fields among `vals`."""
        return {
            fname: self._crm_comparable(fname, value)
            for fname, value in vals.items()
            if fname in OWNED_FIELDS
        }

    def _crm_apply_ownership(self, backend, vals):
        """Return the part of `vals` the CRM may write on this partner."""
        mapping = self.env["integration.external.id"]._find(
            backend, "res.partner", self.env.context.get("crm_sync_external_id")
        )
        last = (mapping.crm_synced_values if mapping else None) or {}
        kept, conflicts = {}, []
        for fname, value in vals.items():
            group = OWNED_FIELDS.get(fname)
            current = self._crm_comparable(fname, self[fname]) if group else None
            incoming = self._crm_comparable(fname, value) if group else None
            if not group or not current:
                kept[fname] = value
            elif incoming == current:
                continue
            elif backend._crm_owner_of(group) == "crm":
                kept[fname] = value
                if fname in last and last[fname] != current:
                    conflicts.append((fname, self[fname], value, "crm"))
            elif last.get(fname) != incoming:
                conflicts.append((fname, self[fname], value, "odoo"))
        if conflicts:
            self._crm_post_conflicts(backend, conflicts)
        return kept

    def _crm_post_conflicts(self, backend, conflicts):
        rows = Markup()
        for fname, odoo_value, crm_value, owner in conflicts:
            label = self._fields[fname].get_description(self.env)["string"]
            odoo_text = self._crm_display(fname, odoo_value)
            crm_text = self._crm_display(fname, crm_value)
            if owner == "crm":
                line = _(
                    "%(field)s: Odoo value %(odoo)s replaced by %(crm)s (the CRM owns "
                    "it)",
                    field=label,
                    odoo=odoo_text,
                    crm=crm_text,
                )
            else:
                line = _(
                    "%(field)s: CRM value %(crm)s not applied, Odoo keeps %(odoo)s "
                    "(Odoo owns it)",
                    field=label,
                    odoo=odoo_text,
                    crm=crm_text,
                )
            rows += Markup("<li>%s</li>") % line
        body = Markup("<p>%s</p><ul>%s</ul>") % (
            _("Conflicting changes from %(backend)s:", backend=backend.display_name),
            rows,
        )
        self.message_post(body=body)

    def _crm_display(self, fname, value):
        field = self._fields[fname]
        if field.type == "many2one" and not isinstance(value, models.BaseModel):
            value = self.env[field.comodel_name].browse(value)
        if isinstance(value, models.BaseModel):
            value = value.display_name
        return escape(value or "-")
