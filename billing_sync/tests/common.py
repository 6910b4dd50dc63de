"""A small services firm on real Odoo invoicing, shared by the billing tests."""

from dateutil.relativedelta import relativedelta

from odoo import Command, fields
from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.tools import date_utils


class BillingCase(AccountTestInvoicingCommon):
    """Customers, service products of each billing type, and an employee.

    The billing period is the previous calendar month, so its runs can be
    posted today when the posting window is wide enough.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.user.groups_id |= cls.env.ref("project.group_project_milestone")
        today = fields.Date.context_today(cls.env.user)
        cls.period_start = date_utils.start_of(today - relativedelta(months=1), "month")
        cls.period_end = date_utils.end_of(cls.period_start, "month")
        cls.next_period_start = cls.period_end + relativedelta(days=1)
        cls.company = cls.env.company
        cls.company.billing_posting_window_days = (today - cls.period_end).days + 5
        cls.country = cls.env.ref("base.be")
        cls.customer = cls._customer("Acme Consulting Client")
        cls.customer_b = cls._customer("Beta Industries")
        cls.employee = cls.env["hr.employee"].create(
            {"name": "Ada Lovelace", "hourly_cost": 40.0, "company_id": cls.company.id}
        )
        uom_hour = cls.env.ref("uom.product_uom_hour")
        cls.product_tm = cls._service(
            "Consulting hour", 100.0, "delivered_timesheet", uom_hour
        )
        cls.product_milestone = cls._service(
            "Milestone delivery",
            2000.0,
            "milestones",
            cls.env.ref("uom.product_uom_unit"),
        )
        cls.product_fixed = cls._service(
            "Fixed-price setup", 500.0, "ordered", cls.env.ref("uom.product_uom_unit")
        )

    @classmethod
    def _customer(cls, name, **values):
        return cls.env["res.partner"].create(
            dict(
                {
                    "name": name,
                    "is_company": True,
                    "vat": "BE0477472701",
                    "street": "Rue de la Loi 16",
                    "city": "Brussels",
                    "zip": "1000",
                    "country_id": cls.country.id,
                },
                **values,
            )
        )

    @classmethod
    def _service(cls, name, price, policy, uom):
        """Create a service product invoiced on timesheets, milestones or order."""
        invoice_policy, service_type = {
            "delivered_timesheet": ("delivery", "timesheet"),
            "milestones": ("delivery", "milestones"),
            "ordered": ("order", "manual"),
        }[policy]
        return cls.env["product.product"].create(
            {
                "name": name,
                "type": "service",
                "list_price": price,
                "uom_id": uom.id,
                "uom_po_id": uom.id,
                "invoice_policy": invoice_policy,
                "service_type": service_type,
                "service_tracking": "no" if policy == "ordered" else "project_only",
                "taxes_id": [Command.clear()],
                "property_account_income_id": cls.company_data[
                    "default_account_revenue"
                ].id,
            }
        )

    def _order(self, partner, lines, pricelist=None):
        """Create and confirm an order of [(product, quantity, price)]; return it."""
        values = {
            "partner_id": partner.id,
            "order_line": [
                Command.create(
                    {
                        "product_id": product.id,
                        "product_uom_qty": quantity,
                        "price_unit": price,
                    }
                )
                for product, quantity, price in lines
            ],
        }
        if pricelist:
            values["pricelist_id"] = pricelist.id
        order = self.env["sale.order"].create(values)
        order.action_confirm()
        return order

    def _line(self, order, product):
        return order.order_line.filtered(lambda line: line.product_id == product)

    def _log(self, order, hours, date, product=None):
        """Record `hours` of time on the project of `order` on `date`."""
        line = self._line(order, product or self.product_tm)
        project = line.project_id or order.project_ids[:1]
        return self.env["account.analytic.line"].create(
            {
                "name": "Work",
                "project_id": project.id,
                "employee_id": self.employee.id,
                "unit_amount": hours,
                "date": date,
                "so_line": line.id,
            }
        )

    def _run(self, **values):
        return self.env["billing.run"].create(
            dict({"date_from": self.period_start, "date_to": self.period_end}, **values)
        )

    def _generated_run(self, **values):
        """Create a run and take it through validation, preview and generation."""
        run = self._run(**values)
        run.action_validate()
        run.action_preview()
        run.action_generate()
        return run

    def _day(self, day):
        return self.period_start + relativedelta(days=day - 1)
