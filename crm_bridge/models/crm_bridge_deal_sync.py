"""Won CRM deals to confirmed sale orders, and later deal changes.

A won deal becomes one confirmed order of the deal's company, in the
deal's currency, with one line per line item on the mapped service
product (or one line of the backend's default product at the deal amount).
Confirming hands over to Odoo's `sale_project`, which creates the project,
the tasks and the milestones of milestone-invoiced lines.

Once the order exists, a later version of the deal updates what Odoo
still allows: the close date, the salesperson, and the quantities and
prices of lines nothing has been invoiced on. New line items add lines.
Everything else (another customer or currency, a line already
invoiced, a removed line with delivered work, a deal lost or reopened)
is left as it is and opens an exception for a person to decide.
"""

from datetime import datetime, time

from odoo import Command, _, api, models
from odoo.addons.integration_audit.services.errors import BusinessError
from odoo.tools import float_compare

from ..services.errors import LinkableError
from .crm_bridge_partner_sync import payload_digest

# External id of the single line a deal without line items gets.
DEFAULT_LINE_SUFFIX = ":amount"


class CrmBridgeDealSync(models.AbstractModel):
    _name = "crm.bridge.deal.sync"
    _description = "CRM Deal Sync"

    @api.model
    def _import(self, backend, deal, source, job=None):
        """Create or update the order of one neutral deal; return it or None."""
        if not backend.crm_sync_deals:
            return None
        Mapping = self.env["integration.external.id"]
        Mapping._lock(backend, "sale.order", deal["ref"])
        # A deal read with the same change time may still have new line items,
        # because they do not always move it. The payload digest makes a true
        # repeat a no-op instead.
        Mapping._check_fresh(
            backend, "sale.order", deal["ref"], deal.get("updated_at"), allow_equal=True
        )

        order = Mapping._resolve(backend, "sale.order", deal["ref"])
        if not order:
            if not deal["is_won"]:
                return None
            return self._create_order(backend, deal, source, job)

        digest = self._digest(deal, source)
        if Mapping._find(backend, "sale.order", deal["ref"]).payload_hash != digest:
            self._update_order(backend, deal, source, order, job)
        Mapping._bind(
            backend,
            order,
            deal["ref"],
            updated_at=deal.get("updated_at"),
            payload_hash=digest,
        )
        return order

    @api.model
    def _digest(self, deal, source):
        """Return the digest of a deal with its line items and company."""
        return payload_digest(
            dict(deal, lines=source.line_items, company=source.company_ref)
        )

    # ------------------------------------------------------------------
    # New orders
    # ------------------------------------------------------------------

    @api.model
    def _create_order(self, backend, deal, source, job):
        customer = self._customer(backend, deal, source, job)
        pricelist = self._pricelist(backend, deal, customer)
        lines = self._line_commands(backend, deal, source, pricelist.currency_id, job)
        order = self.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "company_id": backend.company_id.id,
                "pricelist_id": pricelist.id,
                "user_id": self._salesperson(source).id or False,
                "client_order_ref": deal.get("name"),
                "origin": self._describe(backend, deal),
                "crm_close_date": deal.get("close_date"),
                "order_line": [command for command, _ref in lines],
            }
        )
        order.action_confirm()
        if deal.get("close_date"):
            order.date_order = datetime.combine(deal["close_date"], time(12))
        self._bind_lines(backend, order, lines, source)
        digest = self._digest(deal, source)
        self.env["integration.external.id"]._bind(
            backend,
            order,
            deal["ref"],
            updated_at=deal.get("updated_at"),
            payload_hash=digest,
            external_model=deal["external_model"],
        )
        self.env["crm.bridge.deal.push"]._enqueue_project_link(order)
        return order

    @api.model
    def _bind_lines(self, backend, order, lines, source):
        Mapping = self.env["integration.external.id"]
        for line, (_command, ref) in zip(
            order.order_line.sorted("sequence"), lines, strict=True
        ):
            Mapping._bind(backend, line, ref, external_model="line_items")

    @api.model
    def _customer(self, backend, deal, source, job):
        """Return the active partner of the deal's company, importing it if new."""
        describe = self._describe(backend, deal)
        company_ref = source.company_ref
        if not company_ref:
            raise BusinessError(
                _(
                    "Won %(deal)s has no company. Associate a company (account) with "
                    "it in the CRM, then retry.",
                    deal=describe,
                ),
                category="missing_customer",
            )
        Mapping = self.env["integration.external.id"]
        partner = Mapping._resolve(backend, "res.partner", company_ref)
        if not partner:
            partner = self.env["crm.bridge.sync"]._fetch_and_import_partner(
                backend, company_ref, is_company=True, job=job
            )
        if not partner:
            raise BusinessError(
                _(
                    "Won %(deal)s names company %(ref)s, which the CRM does not "
                    "return. Correct the deal's company in the CRM, then retry.",
                    deal=describe,
                    ref=company_ref,
                ),
                category="missing_customer",
            )
        self._check_active(backend, deal, partner, company_ref)
        return partner

    @api.model
    def _check_active(self, backend, deal, partner, company_ref):
        """Raise when the customer is archived: no order for a dormant partner."""
        if not partner.active:
            raise LinkableError(
                _(
                    "Won %(deal)s is for archived partner %(partner)s, so no order "
                    "was made. Restore the partner and retry, or link another partner.",
                    deal=self._describe(backend, deal),
                    partner=partner.display_name,
                ),
                "archived_customer",
                link={
                    "external_id": company_ref,
                    "res_model": "res.partner",
                    "external_model": deal.get("company_model"),
                },
                records=partner,
                candidates=partner,
            )

    @api.model
    def _pricelist(self, backend, deal, customer):
        """Return a pricelist in the deal's currency, creating one if needed."""
        currency = self._currency(backend, deal)
        company = backend.company_id
        own = customer.with_company(company).property_product_pricelist
        if own.currency_id == currency:
            return own
        Pricelist = self.env["product.pricelist"]
        pricelist = Pricelist.search(
            [
                ("currency_id", "=", currency.id),
                ("company_id", "in", [False, company.id]),
            ],
            limit=1,
        )
        return pricelist or Pricelist.create(
            {
                "name": _("CRM deals in %(currency)s", currency=currency.name),
                "currency_id": currency.id,
                "company_id": company.id,
            }
        )

    @api.model
    def _currency(self, backend, deal):
        code = (deal.get("currency") or backend.company_id.currency_id.name).upper()
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)], limit=1)
        )
        describe = self._describe(backend, deal)
        if not currency:
            raise BusinessError(
                _(
                    "%(deal)s is in currency %(code)s, which Odoo does not know. "
                    "Correct the deal's currency in the CRM, then retry.",
                    deal=describe,
                    code=code,
                ),
                category="invalid_currency",
            )
        if not currency.active:
            raise BusinessError(
                _(
                    "%(deal)s is in currency %(code)s, which is inactive in Odoo. "
                    "Activate it in Accounting > Configuration > Currencies, then "
                    "retry.",
                    deal=describe,
                    code=code,
                ),
                category="invalid_currency",
                records=currency,
            )
        return currency

    @api.model
    def _salesperson(self, source):
        """Return the internal user whose e-mail is the deal owner's, or none."""
        email = source.owner_email
        Users = self.env["res.users"]
        if not email:
            return Users
        email = email.strip().lower()
        return Users.search(
            [("share", "=", False), ("login", "=ilike", email)], limit=1
        ) or (
            Users.search(
                [("share", "=", False), ("email_normalized", "=", email)], limit=1
            )
        )

    # ------------------------------------------------------------------
    # Lines
    # ------------------------------------------------------------------

    @api.model
    def _line_commands(self, backend, deal, source, currency, job):
        """Return [(create command, external id)] of the order's lines."""
        items = source.line_items
        if not items:
            product = self._default_product(backend)
            values = {
                "product_id": product.id,
                "name": deal.get("name") or product.name,
                "product_uom_qty": 1.0,
                "price_unit": deal.get("amount") or 0.0,
                "sequence": 1,
            }
            return [(Command.create(values), deal["ref"] + DEFAULT_LINE_SUFFIX)]
        commands = []
        for sequence, item in enumerate(items, start=1):
            values = self._line_values(backend, item, job)
            values["sequence"] = sequence
            commands.append((Command.create(values), item["ref"]))
        return commands

    @api.model
    def _line_values(self, backend, item, job):
        product = self._product(backend, item)
        quantity = item.get("quantity")
        return {
            "product_id": product.id,
            "name": item.get("name") or product.name,
            "product_uom_qty": 1.0 if quantity is None else quantity,
            "price_unit": item.get("price") or 0.0,
        }

    @api.model
    def _product(self, backend, item):
        """Return the service product of a line item; raise when unmapped."""
        ref = item.get("product_ref")
        sku = item.get("sku")
        if not (ref or sku):
            return self._default_product(backend)
        link_ref = ref or f"sku:{sku}"
        product = self.env["integration.external.id"]._resolve(
            backend, "product.product", link_ref
        )
        if not product and sku:
            product = self.env["product.product"].search(
                [("default_code", "=ilike", sku)], limit=1
            )
        if product and product.type == "service":
            return product
        raise self._unknown_product(item, product, link_ref)

    @api.model
    def _unknown_product(self, item, product, link_ref):
        """Return the linkable error of a line item without a service product."""
        if product:
            reason = _("product %(name)s is not a service", name=product.display_name)
        else:
            reason = _(
                "no Odoo product has reference %(sku)s or is linked to product %(ref)s",
                sku=item.get("sku") or "-",
                ref=item.get("product_ref") or "-",
            )
        return LinkableError(
            _(
                "Line item %(item)s (%(name)s) cannot be ordered: %(reason)s. Choose "
                "a service product in Link to, then press Link and Retry.",
                item=item["ref"],
                name=item.get("name") or "-",
                reason=reason,
            ),
            "unknown_product",
            link={
                "external_id": link_ref,
                "res_model": "product.product",
                "external_model": "products",
            },
            candidates=self.env["product.product"],
        )

    @api.model
    def _default_product(self, backend):
        product = backend.crm_default_product_id
        if not product:
            raise BusinessError(
                _(
                    "Backend %(backend)s has no default service product. Choose one "
                    "on its CRM page, then retry.",
                    backend=backend.display_name,
                ),
                category="configuration",
            )
        return product

    # ------------------------------------------------------------------
    # Existing orders
    # ------------------------------------------------------------------

    @api.model
    def _update_order(self, backend, deal, source, order, job):
        """Apply what may still change on `order`; report the rest."""
        if not deal["is_won"]:
            self._report(
                backend,
                deal,
                order,
                "deal_reopened",
                [
                    _(
                        "the deal is no longer won (stage %(stage)s); the order was "
                        "kept",
                        stage=deal.get("stage") or "-",
                    )
                ],
            )
            return
        blocked = self._check_header(backend, deal, source, order)
        values = {"crm_close_date": deal.get("close_date")}
        if deal.get("close_date"):
            values["date_order"] = datetime.combine(deal["close_date"], time(12))
        salesperson = self._salesperson(source)
        if salesperson:
            values["user_id"] = salesperson.id
        order.write(values)
        blocked += self._update_lines(backend, deal, source, order, job)
        if blocked:
            self._report(backend, deal, order, "deal_changed", blocked)

    @api.model
    def _check_header(self, backend, deal, source, order):
        """Return why the deal's company or currency cannot follow on `order`."""
        blocked = []
        company_ref = source.company_ref
        customer = self.env["integration.external.id"]._resolve(
            backend, "res.partner", company_ref or ""
        )
        if company_ref and customer != order.partner_id:
            blocked.append(
                _(
                    "the company changed to %(company)s",
                    company=customer.display_name or company_ref,
                )
            )
        currency = self._currency(backend, deal)
        if currency != order.currency_id:
            blocked.append(_("the currency changed to %(code)s", code=currency.name))
        return blocked

    @api.model
    def _update_lines(self, backend, deal, source, order, job):
        """Update, add and zero lines to follow the line items; return blockers."""
        Mapping = self.env["integration.external.id"]
        items = source.line_items or [self._amount_item(backend, deal)]
        blocked, seen = [], set()
        for item in items:
            line = Mapping._resolve(backend, "sale.order.line", item["ref"])
            seen.add(line.id)
            if line:
                blocked += self._update_line(line, item)
                continue
            values = self._line_values(backend, item, job)
            values["order_id"] = order.id
            line = self.env["sale.order.line"].create(values)
            Mapping._bind(backend, line, item["ref"], external_model="line_items")
            seen.add(line.id)
        for line in order.order_line.filtered(lambda line: line.id not in seen):
            if Mapping._external_id_of(backend, line):
                blocked += self._update_line(line, {"quantity": 0.0, "name": line.name})
        return blocked

    @api.model
    def _amount_item(self, backend, deal):
        return {
            "ref": deal["ref"] + DEFAULT_LINE_SUFFIX,
            "name": deal.get("name"),
            "quantity": 1.0,
            "price": deal.get("amount") or 0.0,
        }

    @api.model
    def _update_line(self, line, item):
        """Write the item's quantity and price where Odoo allows; return blockers."""
        quantity = 1.0 if item.get("quantity") is None else item["quantity"]
        price = item.get("price", line.price_unit)
        digits = line.product_uom.rounding
        same_quantity = (
            float_compare(quantity, line.product_uom_qty, precision_rounding=digits)
            == 0
        )
        same_price = (
            float_compare(price or 0.0, line.price_unit, precision_digits=6) == 0
        )
        if same_quantity and same_price:
            return []
        floor = max(line.qty_invoiced, line.qty_delivered)
        if (
            line.qty_invoiced
            or float_compare(quantity, floor, precision_rounding=digits) < 0
        ):
            return [
                _(
                    "line %(line)s: quantity %(quantity)s and price %(price)s not "
                    "applied, because %(invoiced)s is invoiced and %(delivered)s "
                    "delivered",
                    line=line.name,
                    quantity=quantity,
                    price=price,
                    invoiced=line.qty_invoiced,
                    delivered=line.qty_delivered,
                )
            ]
        line.write({"product_uom_qty": quantity, "price_unit": price or 0.0})
        return []

    @api.model
    def _report(self, backend, deal, order, category, reasons):
        self.env["integration.exception"]._open_review(
            backend,
            category,
            _(
                "%(deal)s changed after order %(order)s was made: %(reasons)s. Change "
                "the order by hand if needed, then mark this resolved.",
                deal=self._describe(backend, deal),
                order=order.name,
                reasons="; ".join(reasons),
            ),
            records=order,
            dedup_key=f"{category}:{backend.id}:{deal['ref']}",
        )

    @api.model
    def _describe(self, backend, deal):
        kind = dict(backend._fields["kind"].selection).get(backend.kind)
        return f"{kind} deal {deal['ref']} ({deal.get('name') or '-'})"
