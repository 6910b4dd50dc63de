"""Store one page of approved PSA expenses as Odoo expenses, exactly once.

An expense keeps the amount and currency the PSA recorded. Odoo 18's
hr_expense converts it to the company currency at the rate of the expense
`date`, so posting the report later does not change it (a test posts a
report a month later and checks the amount). A
billable expense on a sold project is set to be re-invoiced on the
project's sales order, which `sale_expense` does when the report is
posted. The receipt is downloaded and attached to the expense.
"""

import base64
import logging
from decimal import Decimal

from odoo import _
from odoo.addons.integration_audit.services.errors import BusinessError

from . import mapping, page_store, validation
from .records import Expense, parse_date, parse_timestamp, to_decimal
from .time_batch import PullRun
from .time_import import ImportResult, entry_to_payload, open_unreadable

_logger = logging.getLogger(__name__)

EXPENSE = "hr.expense"
PRODUCT = "product.product"
FLOW = "psa.expense"
# A converted amount the PSA sends may differ from Odoo's by this much
# (one cent of rounding) before it is reported.
FX_TOLERANCE = Decimal("0.01")
EDITABLE_STATES = ("draft", "reported")


def expense_from_payload(payload):
    """Return the `Expense` a retry job stored."""
    values = dict(payload)
    values["date"] = parse_date(values["date"])
    values["total"] = to_decimal(values["total"])
    for name in ("units", "converted_total"):
        if values.get(name) not in (None, ""):
            values[name] = to_decimal(values[name])
    values["updated_at"] = parse_timestamp(values.get("updated_at"))
    return Expense(**values)


class ExpenseBatch(PullRun):
    """The pull of expenses, which become Odoo expenses."""

    flow = "psa.expenses"

    def fetch_pages(self, client, since, resume_token):
        """Yield pages of expenses changed since `since`."""
        return client.iter_expense_pages(since, resume_token)

    def make_importer(self, backend):
        """Return an `ExpenseImporter` of `backend`."""
        return ExpenseImporter(backend)


class ExpenseImporter:
    """Validates and stores pages of `Expense` for one backend."""

    def __init__(self, backend, raise_errors=False):
        self.backend = backend
        self.env = backend.env
        self.raise_errors = raise_errors
        self.approved_states = backend._psa_approved_states()
        self.lock_date = backend._psa_lock_date("purchase")
        self.client = None
        self.result = ImportResult()

    def import_page(self, expenses):
        """Validate and store `expenses`; return this page's `ImportResult`."""
        self.result = ImportResult(read=len(expenses))
        unique, repeated = validation.split_duplicates(expenses)
        for expense in {expense.id: expense for expense in repeated}.values():
            self._reject(expense, validation.duplicate_error(self.backend, expense))
        self._lock(unique)
        self.mappings = self._mappings(unique)
        changed = [expense for expense in unique if self._has_changed(expense)]
        approved = [e for e in changed if e.approval_state in self.approved_states]
        self._resolve(approved)
        new = []
        for expense in changed:
            values = self._apply(expense)
            if values:
                new.append((expense, values))
        self._create(new)
        return self.result

    def reject_unreadable(self, unreadable):
        """Open the exception of each expense of the page the client could not read."""
        for item in unreadable:
            error = validation.unreadable_error(self.backend, item)
            if self.raise_errors:
                raise error
            self.result.read += 1
            self.result.rejected += 1
            open_unreadable(self.backend, FLOW, item, error)

    def _lock(self, expenses):
        page_store.lock_external_ids(
            self.env, self.backend, EXPENSE, [expense.id for expense in expenses]
        )

    def _mappings(self, expenses):
        rows = (
            self.env["integration.external.id"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", self.backend.id),
                    ("res_model", "=", EXPENSE),
                    ("external_id", "in", [expense.id for expense in expenses]),
                ]
            )
        )
        return {row.external_id: row for row in rows}

    def _has_changed(self, expense):
        row = self.mappings.get(expense.id)
        if not row:
            return True
        stale = row.external_updated_at and expense.updated_at < row.external_updated_at
        if stale or row.payload_hash == expense.digest():
            self.result.unchanged += 1
            return False
        return True

    def _resolve(self, expenses):
        people = {e.person_id: e.person_email for e in expenses if e.person_id}
        self.employees = mapping.resolve_employees(self.env, self.backend, people)
        codes = {e.project_id: "" for e in expenses if e.project_id}
        self.projects = mapping.resolve_projects(self.env, self.backend, codes)
        self.products = self._resolve_products(expenses)
        names = {e.currency for e in expenses if e.currency}
        currencies = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "in", list(names))])
        )
        self.currencies = {currency.name: currency for currency in currencies}

    def _resolve_products(self, expenses):
        """Return {category id: product}, matching expensable products by name."""
        wanted = {e.category_id: e.category_name for e in expenses if e.category_id}
        found = mapping.mapped_records(self.env, self.backend, PRODUCT, wanted)
        pending = {cid: name for cid, name in wanted.items() if cid not in found}
        if not pending:
            return found
        products = self.env[PRODUCT].search(
            [("can_be_expensed", "=", True)], order="id"
        )
        by_name = {}
        for product in products:
            by_name.setdefault((product.name or "").strip().lower(), product)
        pairs = []
        for category_id, name in pending.items():
            product = by_name.get((name or "").strip().lower())
            if product:
                pairs.append((category_id, product))
                found[category_id] = product
        taken = set(
            mapping._bound_ids(
                self.env, self.backend, PRODUCT, [p.id for _c, p in pairs]
            )
        )
        pairs = [(cid, product) for cid, product in pairs if product.id not in taken]
        mapping.bind_many(self.env, self.backend, PRODUCT, pairs, "expense_category")
        return found

    # ------------------------------------------------------------------
    # One expense
    # ------------------------------------------------------------------

    def _apply(self, expense):
        """Return the values of a new expense, or apply a change; None if done."""
        row = self.mappings.get(expense.id)
        record = self.env[EXPENSE].browse(row.res_id).exists() if row else None
        if expense.approval_state not in self.approved_states:
            return self._apply_unapproved(expense, record, row)
        error = self._check(expense)
        if error:
            self._reject(expense, error)
            return None
        values = self._values(expense)
        if not record:
            return values
        if record.state not in EDITABLE_STATES:
            self._reject(
                expense, validation.expense_posted_error(self.backend, expense, record)
            )
            return None
        record.write(values)
        self._attach_receipt(record, expense)
        row.write(
            {
                "external_updated_at": expense.updated_at,
                "payload_hash": expense.digest(),
            }
        )
        self.result.updated += 1
        self._resolve_rejections([expense])
        return None

    def _apply_unapproved(self, expense, record, row):
        if not record:
            self.result.unapproved += 1
        elif record.state in EDITABLE_STATES:
            record.unlink()
            row.unlink()
            self.result.removed += 1
        else:
            self._reject(
                expense, validation.expense_posted_error(self.backend, expense, record)
            )

    def _check(self, expense):
        project = self.projects.get(expense.project_id)
        employee = self.employees.get(expense.person_id)
        return (
            validation.project_error(self.backend, expense, project)
            or validation.employee_error(self.backend, expense, employee, project)
            or validation.category_error(self.backend, expense, self.products)
            or validation.currency_error(
                self.backend, expense, self.currencies.get(expense.currency)
            )
            or validation.lock_error(self.backend, expense, self.lock_date)
        )

    def _values(self, expense):
        """Return the hr.expense values of an approved, valid expense."""
        project = self.projects[expense.project_id]
        product = self.products[expense.category_id]
        currency = self.currencies[expense.currency]
        values = {
            "name": expense.notes or expense.category_name,
            "employee_id": self.employees[expense.person_id].id,
            "product_id": product.id,
            "currency_id": currency.id,
            "total_amount_currency": float(expense.total),
            "date": expense.date,
            "payment_mode": "own_account",
            "description": f"PSA expense {expense.id} ({expense.category_name})",
            "sale_order_id": False,
        }
        order = project.sale_line_id.order_id
        can_reinvoice = product.expense_policy in ("cost", "sales_price")
        if expense.billable and can_reinvoice and order.state == "sale":
            values["sale_order_id"] = order.id
        if project.account_id:
            values["analytic_distribution"] = {str(project.account_id.id): 100}
        return values

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------

    def _create(self, new):
        if not new:
            return
        records = page_store.create_mapped(
            self.env, self.backend, EXPENSE, "expense", new
        )
        flagged = set()
        for (expense, _values), record in zip(new, records, strict=True):
            self._attach_receipt(record, expense)
            if not self._conversion_agrees(record, expense):
                flagged.add(expense.id)
        self.result.created += len(records)
        self._resolve_rejections([e for e, _values in new if e.id not in flagged])

    def _attach_receipt(self, record, expense):
        """Download the receipt and attach it, unless the same file is attached."""
        if not expense.receipt_url:
            return
        name = expense.receipt_name or f"receipt-{expense.id}"
        Attachment = self.env["ir.attachment"]
        existing = Attachment.search_count(
            [
                ("res_model", "=", EXPENSE),
                ("res_id", "=", record.id),
                ("name", "=", name),
            ]
        )
        if existing:
            return
        self.client = self.client or self.backend._psa_client()
        try:
            content = self.client.download(expense.receipt_url)
        except BusinessError as error:
            # A receipt on another host (a storage link) would need the PSA's
            # credentials sent elsewhere, so it is left as a link instead.
            _logger.info(
                "Receipt of PSA expense %s not downloaded: %s", expense.id, error
            )
            record.message_post(
                body=_(
                    "The receipt %(name)s stays in the PSA: %(url)s",
                    name=name,
                    url=expense.receipt_url,
                )
            )
            return
        Attachment.create(
            {
                "name": name,
                "datas": base64.b64encode(content),
                "res_model": EXPENSE,
                "res_id": record.id,
            }
        )

    def _conversion_agrees(self, record, expense):
        """Report a PSA conversion that differs from Odoo's by more than a cent."""
        if expense.converted_total is None:
            return True
        ours = Decimal(str(record.total_amount))
        if abs(ours - expense.converted_total) <= FX_TOLERANCE:
            return True
        error = validation.fx_mismatch_error(self.backend, expense, record, ours)
        self._open_exception(expense, error)
        return False

    # ------------------------------------------------------------------
    # Rejections
    # ------------------------------------------------------------------

    def _reject(self, expense, error):
        if self.raise_errors:
            raise error
        self.result.rejected += 1
        self._open_exception(expense, error)

    def _open_exception(self, expense, error):
        job = self.backend._psa_failed_job(
            FLOW, expense.id, entry_to_payload(expense), str(error), expense.updated_at
        )
        self.env["integration.exception"]._open_from_error(job, error)

    def _resolve_rejections(self, expenses):
        page_store.close_failed_jobs(
            self.env, self.backend, "expense", [expense.id for expense in expenses]
        )
