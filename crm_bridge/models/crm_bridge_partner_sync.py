"""Companies and contacts of a CRM to Odoo partners, matched before created.

A CRM record goes through `integration.external.id._upsert`, the suite's
binder. When no mapping exists, the matcher below looks for the partner
the record already is, in this order, and the first key that finds
anything decides:

1. the mapping of an id the CRM merged into this record;
2. the tax id, in its normal form;
3. persons: the normalized e-mail (exact, never a substring);
   companies: the website or e-mail domain;
4. the name in normal form: companies among the partners of the
   backend's company, persons among the contacts of their company;
5. a phone number in E.164, accepted only together with the same name.

One candidate is linked. When it is already linked to another record of
the same CRM, a tax id or e-mail match links this record too, because the
CRM contains the partner twice. A weaker key raises a possible-duplicate
exception instead. Several candidates, or a phone match under another
name, raise an exception listing the candidates, and nothing is created.

Archived partners are searched too, so an archived match is never
duplicated: it is linked and updated but stays archived, and an
`update_on_archived` exception is opened for a person to review. A won deal of
an archived customer gets no order (see the deal sync).
"""

import hashlib
import json

from odoo import _, api, models

from ..services import normalize
from ..services.crm_records import MalformedRecord
from ..services.errors import LinkableError

MATCH_LIMIT = 10
# Keys that identify one legal entity or person: a partner already linked to
# another record of the same CRM is linked to this one too, as an alias.
# A shared name, domain or phone only makes that a possible duplicate.
SAME_RECORD_KEYS = ("tax id", "email_normalized")


def payload_digest(data):
    """Return the SHA-256 of a neutral record, ignoring its change time."""
    content = {key: value for key, value in data.items() if key != "updated_at"}
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class CrmBridgePartnerSync(models.AbstractModel):
    _name = "crm.bridge.partner.sync"
    _description = "CRM Partner Sync"

    @api.model
    def _import(self, backend, data, external_model, job=None):
        """Create or update the partner of one neutral CRM record; return it."""
        if not (
            backend.crm_sync_companies
            if data["is_company"]
            else backend.crm_sync_contacts
        ):
            return None
        parent = self._parent_of(backend, data, job)
        values, review = self._odoo_values(backend, data, parent)
        merged_partners = self._detach_merged(backend, data)
        outcome = {"merged_partners": merged_partners, "job": job}
        partner, changed = self._upsert(backend, data, values, external_model, outcome)
        if changed:
            self._after_upsert(
                backend, data, partner, values=values, review=review, outcome=outcome
            )
        self._record_merge(
            backend,
            data["ref"],
            partner,
            old_ids=data.get("merged_ids"),
            merged_partners=merged_partners,
            external_model=external_model,
        )
        return partner.with_context(crm_sync_backend_id=None)

    @api.model
    def _upsert(self, backend, data, values, external_model, outcome):
        """Run the binder in the sync context; return (partner, whether it changed).

        The context marks the binder's writes as the CRM's, so the partner's
        field ownership applies to them, matched partners included.
        """
        Mapping = self.env["integration.external.id"].with_context(
            crm_sync_backend_id=backend.id, crm_sync_external_id=data["ref"]
        )

        def match():
            found = self._match(backend, data, values, outcome)
            return found.with_env(Mapping.env) if found else None

        before = Mapping._find(backend, "res.partner", data["ref"]).payload_hash
        digest = payload_digest(data)
        partner = Mapping._upsert(
            backend,
            "res.partner",
            data["ref"],
            values,
            updated_at=data.get("updated_at"),
            payload_hash=digest,
            match=match,
            external_model=external_model,
        )
        return partner, before != digest

    # ------------------------------------------------------------------
    # Values
    # ------------------------------------------------------------------

    @api.model
    def _odoo_values(self, backend, data, parent):
        """Return (partner values, review notes) of a neutral record."""
        country = self._country(data.get("country")) or parent.country_id
        values = {"is_company": data["is_company"], "type": "contact"}
        values["name"] = data.get("name") or data.get("email")
        if not values["name"]:
            raise MalformedRecord(
                f"record {data['ref']} has neither a name nor an e-mail"
            )
        for key in ("email", "street", "street2", "city", "zip", "function"):
            if data.get(key):
                values[key] = data[key]
        if data.get("website"):
            values["website"] = (
                normalize.website_url(data["website"]) or data["website"]
            )
        if country:
            values["country_id"] = country.id
            state = self._state(country, data.get("state"))
            if state:
                values["state_id"] = state.id
        region = (country or backend.company_id.country_id).code
        for key in ("phone", "mobile"):
            if data.get(key):
                values[key] = normalize.normalize_phone(data[key], region) or data[key]
        if parent:
            values["parent_id"] = parent.id
        review = self._vat_values(data, country, values)
        return values, review

    @api.model
    def _vat_values(self, data, country, values):
        """Add the tax id to `values` when valid; return the review note if not."""
        vat = normalize.normalize_vat(data.get("vat"), country.code)
        if not vat:
            return None
        if vat.valid is False:
            return _(
                "Tax ID %(raw)s is invalid for %(country)s and was not stored.",
                raw=data["vat"],
                country=country.name or _("an unknown country"),
            )
        values["vat"] = vat.value
        return None

    @api.model
    def _country(self, text):
        if not text:
            return self.env["res.country"]
        Country = self.env["res.country"].with_context(lang="en_US")
        if len(text) == 2:
            return Country.search([("code", "=ilike", text)], limit=1)
        return Country.search([("name", "=ilike", text)], limit=1)

    @api.model
    def _state(self, country, text):
        if not text:
            return None
        State = self.env["res.country.state"].with_context(lang="en_US")
        base = [("country_id", "=", country.id)]
        by_code = State.search([*base, ("code", "=ilike", text)], limit=1)
        return by_code or State.search([*base, ("name", "=ilike", text)], limit=1)

    @api.model
    def _parent_of(self, backend, data, job):
        """Return the company partner of a person, importing it when new."""
        if data["is_company"] or not data.get("parent_ref"):
            return self.env["res.partner"]
        Mapping = self.env["integration.external.id"]
        parent = Mapping._resolve(backend, "res.partner", data["parent_ref"])
        if not parent:
            parent = self.env["crm.bridge.sync"]._fetch_and_import_partner(
                backend, data["parent_ref"], is_company=True, job=job
            )
        return parent or self.env["res.partner"]

    # ------------------------------------------------------------------
    # Matching
    # ------------------------------------------------------------------

    @api.model
    def _match(self, backend, data, values, outcome):
        """Return the existing partner of a record new to the mapping, or None.

        `outcome` carries the partners of merged ids and the job in, and
        the key that matched out.
        """
        merged_partners = outcome["merged_partners"]
        if merged_partners:
            outcome["matched_by"] = "merged id"
            return merged_partners[0]
        if self._create_requested(outcome["job"], data["ref"]):
            return None
        Partner = self.env["res.partner"].with_context(active_test=False)
        for key, domain, exact in self._match_steps(backend, data, values):
            candidates = Partner.search(domain, limit=MATCH_LIMIT * 5)
            if exact:
                candidates = candidates.filtered(exact)
            if candidates:
                candidates = candidates[:MATCH_LIMIT]
                return self._decide(backend, data, key, candidates, outcome)
        if not backend.crm_auto_create_partners:
            message = _(
                "%(record)s matches no partner and creating partners is off on "
                "%(backend)s. Link a partner and retry, or turn creation on.",
                record=self._describe(backend, data),
                backend=backend.display_name,
            )
            raise self._linkable(data, "unmatched_partner", Partner, message)
        return None

    @api.model
    def _match_steps(self, backend, data, values):
        """Return [(key name, domain, exact test or None)] in matching order.

        The exact test re-checks what a domain can only approximate, such
        as the host name inside a website URL.
        """
        scope = [("is_company", "=", data["is_company"])]
        if data["is_company"]:
            scope.append(("company_id", "in", [False, backend.company_id.id]))
        steps = []
        if values.get("vat"):
            steps.append(("tax id", [("crm_vat_key", "=", values["vat"])], None))
        if data["is_company"]:
            steps += self._domain_steps(data)
        else:
            steps += self._email_steps(data)
        name_key = normalize.name_key(values.get("name"))
        if name_key and data["is_company"]:
            steps.append(("name", [("crm_name_key", "=", name_key)], None))
        elif name_key and values.get("parent_id"):
            within = [("parent_id", "=", values["parent_id"])]
            steps.append(("name", [*within, ("crm_name_key", "=", name_key)], None))
        phones = [values[key] for key in ("phone", "mobile") if values.get(key)]
        if phones:
            either = ["|", ("crm_phone_e164", "in", phones)]
            steps.append(("phone", [*either, ("crm_mobile_e164", "in", phones)], None))
        return [(key, [*scope, *domain], exact) for key, domain, exact in steps]

    @api.model
    def _domain_steps(self, data):
        domain = normalize.website_domain(data.get("domain") or data.get("website"))
        if not domain:
            return []

        def same_domain(partner):
            return domain in (
                normalize.website_domain(partner.website),
                normalize.email_domain(partner.email),
            )

        search = [
            "|",
            ("website", "ilike", domain),
            ("email_normalized", "=ilike", f"%@{domain}"),
        ]
        return [("domain", search, same_domain)]

    @api.model
    def _email_steps(self, data):
        email = normalize.normalize_email(data.get("email"))
        return (
            [("email_normalized", [("email_normalized", "=", email)], None)]
            if email
            else []
        )

    @api.model
    def _decide(self, backend, data, key, candidates, outcome):
        """Return the one acceptable candidate, or raise with the candidates."""
        describe = self._describe(backend, data)
        if len(candidates) > 1:
            message = _(
                "%(record)s matches %(count)d partners by %(key)s: %(names)s. Press "
                "Link on the right one, or press Create New.",
                record=describe,
                count=len(candidates),
                key=key,
                names=", ".join(candidates.mapped("display_name")),
            )
            raise self._linkable(data, "ambiguous_partner", candidates, message)
        if key == "phone" and candidates.crm_name_key != normalize.name_key(
            data.get("name")
        ):
            message = _(
                "%(record)s has the phone number of %(partner)s under another name. "
                "Link it if it is the same person, or press Create New.",
                record=describe,
                partner=candidates.display_name,
            )
            raise self._linkable(data, "possible_duplicate", candidates, message)
        self._check_linked_elsewhere(backend, data, key, candidates)
        outcome["matched_by"] = key
        return candidates.with_env(self.env)

    @api.model
    def _check_linked_elsewhere(self, backend, data, key, partner):
        """Handle a match already linked to another record of the same CRM.

        A tax id or e-mail match means the CRM contains the partner twice, so
        this record becomes an alias of it. A weaker key raises a
        possible-duplicate exception instead.
        """
        Mapping = self.env["integration.external.id"]
        owned = Mapping._external_id_of(backend, partner)
        if not owned or owned == data["ref"]:
            return
        if key in SAME_RECORD_KEYS:
            Mapping._add_alias(backend, partner, data["ref"])
            return
        message = _(
            "%(record)s matches %(partner)s by %(key)s, but that partner is linked to "
            "record %(other)s of the same CRM. Link it to make both records one "
            "partner, or press Create New.",
            record=self._describe(backend, data),
            partner=partner.display_name,
            key=key,
            other=owned,
        )
        raise self._linkable(data, "possible_duplicate", partner, message)

    @api.model
    def _create_requested(self, job, external_id):
        """Return whether a person chose Create New for this record's match."""
        if not job:
            return False
        return bool(
            self.env["integration.exception"].search_count(
                [
                    ("job_id", "=", job.id),
                    ("crm_create_new", "=", True),
                    ("link_external_id", "=", external_id),
                ]
            )
        )

    @api.model
    def _linkable(self, data, category, candidates, message):
        link = {"external_id": data["ref"], "res_model": "res.partner"}
        link["external_model"] = data.get("external_model")
        return LinkableError(message, category, link=link, candidates=candidates)

    @api.model
    def _describe(self, backend, data):
        kind = dict(backend._fields["kind"].selection).get(backend.kind)
        noun = _("company") if data["is_company"] else _("contact")
        name = data.get("name") or data.get("email") or "-"
        return f"{kind} {noun} {data['ref']} ({name})"

    # ------------------------------------------------------------------
    # Merges
    # ------------------------------------------------------------------

    @api.model
    def _detach_merged(self, backend, data):
        """Turn the mappings of ids merged into this record into aliases.

        Returns the partners those ids were mapped to, first mapped first,
        so the surviving record can take over one of them.
        """
        Mapping = self.env["integration.external.id"]
        partners = self.env["res.partner"]
        for old_id in data.get("merged_ids") or []:
            mapping = Mapping._find(backend, "res.partner", old_id)
            if not mapping or mapping.external_id == data["ref"]:
                continue
            if not Mapping._find(backend, "res.partner", data["ref"]):
                mapping.is_alias = True
                # The unique index on primary mappings is checked at the insert.
                mapping.flush_recordset(["is_alias"])
            partner = self.env["res.partner"].browse(mapping.res_id).exists()
            partners |= partner
        return partners.with_context(active_test=False)

    @api.model
    def _record_merge(
        self,
        backend,
        surviving_ref,
        partner,
        *,
        old_ids,
        merged_partners,
        external_model,
    ):
        """Keep `old_ids` resolving to `partner`, and report partners left apart.

        The partners the old ids were mapped to are never deleted or merged
        here, because orders and invoices may point at them. An exception
        lists them, so a person merges them with Odoo's partner merge.
        """
        Mapping = self.env["integration.external.id"]
        for old_id in old_ids or []:
            if old_id != surviving_ref:
                Mapping._add_alias(backend, partner, old_id)
        candidates = partner | merged_partners
        if len(candidates) > 1:
            self._report_merge(backend, surviving_ref, candidates, external_model)

    @api.model
    def _report_merge(self, backend, surviving_ref, candidates, external_model):
        """Open the exception listing the partners one CRM record now stands for."""
        exception = self.env["integration.exception"]._open_review(
            backend,
            "crm_merge",
            _(
                "Record %(ref)s was merged in the CRM, but stands for several "
                "partners in Odoo: %(names)s. Merge them with Contacts > Merge, or "
                "press Link on the surviving partner.",
                ref=surviving_ref,
                names=", ".join(candidates.mapped("display_name")),
            ),
            records=candidates[:1],
            dedup_key=f"crm_merge:{backend.id}:{surviving_ref}",
        )
        link = {
            "external_id": surviving_ref,
            "external_model": external_model,
            "res_model": "res.partner",
        }
        exception._crm_set_link(link, candidates)

    # ------------------------------------------------------------------
    # After the upsert
    # ------------------------------------------------------------------

    @api.model
    def _after_upsert(self, backend, data, partner, *, values, review, outcome):
        """Remember the synced values, audit the match, open reviews."""
        mapping = self.env["integration.external.id"]._find(
            backend, "res.partner", data["ref"]
        )
        mapping.crm_synced_values = partner._crm_synced_comparables(values)
        describe = self._describe(backend, data)
        if outcome.get("matched_by"):
            self._audit_match(backend, describe, partner, outcome["matched_by"])
        if review:
            self._review_vat(backend, data, partner, describe, review)
        if not partner.active:
            self.env["integration.exception"]._open_review(
                backend,
                "update_on_archived",
                _(
                    "%(record)s updated archived partner %(partner)s. It stays "
                    "archived; restore it if the customer is active again.",
                    record=describe,
                    partner=partner.display_name,
                ),
                records=partner,
                dedup_key=f"update_on_archived:{backend.id}:{partner.id}",
            )

    @api.model
    def _audit_match(self, backend, describe, partner, key):
        """Record in the audit log which key linked a CRM record to a partner."""
        self.env["integration.audit.log"]._record(
            backend,
            "internal",
            endpoint="match/res.partner",
            method="MATCH",
            message=_(
                "%(record)s linked to partner %(partner)s (id %(id)s), "
                "matched_by=%(key)s",
                record=describe,
                partner=partner.display_name,
                id=partner.id,
                key=key,
            ),
        )

    @api.model
    def _review_vat(self, backend, data, partner, describe, review):
        self.env["integration.audit.log"]._record(
            backend,
            "internal",
            outcome="skipped",
            endpoint="match/res.partner",
            method="VAT",
            message=_(
                "%(record)s: tax ID %(raw)s rejected", record=describe, raw=data["vat"]
            ),
        )
        self.env["integration.exception"]._open_review(
            backend,
            "invalid_vat",
            _(
                "%(record)s: %(note)s Correct it in the CRM or on partner %(partner)s.",
                record=describe,
                note=review,
                partner=partner.display_name,
            ),
            records=partner,
            dedup_key=f"invalid_vat:{backend.id}:{data['ref']}",
        )
