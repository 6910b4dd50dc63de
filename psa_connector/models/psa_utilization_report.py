"""Utilization per person and week: billable hours against capacity and target.

A database view over timesheets and allocations. Worked hours are the
person's timesheets, and billable hours those on a sales order item (the
ones `sale_timesheet` invoices). Allocated hours spread each allocation
evenly over the days of its period. Capacity and target come from the
employee's weekly capacity and utilization target.
"""

from odoo import api, fields, models, tools
from odoo.tools import SQL

VIEW_QUERY = """
WITH timesheets AS (
    SELECT employee_id, date, unit_amount, so_line
      FROM account_analytic_line
     WHERE project_id IS NOT NULL AND employee_id IS NOT NULL
), bounds AS (
    SELECT date_trunc('week', LEAST(
               (SELECT min(date) FROM timesheets),
               (SELECT min(date_from) FROM psa_allocation)))::date
           AS first_week,
           date_trunc('week', GREATEST(
               (SELECT max(date) FROM timesheets),
               (SELECT max(date_to) FROM psa_allocation)))::date
           AS last_week
), weeks AS (
    SELECT generate_series(first_week, last_week, interval '1 week')::date
           AS week
      FROM bounds
     WHERE first_week IS NOT NULL
), worked AS (
    SELECT employee_id, date_trunc('week', date)::date AS week,
           sum(unit_amount) AS worked_hours,
           sum(unit_amount) FILTER (WHERE so_line IS NOT NULL)
               AS billable_hours
      FROM timesheets
  GROUP BY 1, 2
), allocated AS (
    SELECT allocation.employee_id, weeks.week,
           sum(allocation.hours
               * (LEAST(allocation.date_to, weeks.week + 6)
                  - GREATEST(allocation.date_from, weeks.week) + 1)
               / (allocation.date_to - allocation.date_from + 1))
               AS allocated_hours
      FROM psa_allocation allocation
      JOIN weeks
        ON weeks.week <= allocation.date_to
       AND weeks.week + 6 >= allocation.date_from
  GROUP BY 1, 2
), grid AS (
    SELECT weeks.week, employee.id AS employee_id,
           employee.department_id, employee.company_id,
           COALESCE(employee.psa_weekly_capacity, 0) AS capacity_hours,
           COALESCE(employee.psa_weekly_capacity, 0)
               * COALESCE(employee.psa_utilization_target, 0) / 100.0
               AS target_hours,
           COALESCE(worked.worked_hours, 0) AS worked_hours,
           COALESCE(worked.billable_hours, 0) AS billable_hours,
           COALESCE(allocated.allocated_hours, 0) AS allocated_hours
      FROM weeks
CROSS JOIN hr_employee employee
 LEFT JOIN worked
        ON worked.employee_id = employee.id AND worked.week = weeks.week
 LEFT JOIN allocated
        ON allocated.employee_id = employee.id
       AND allocated.week = weeks.week
     WHERE employee.active
)
SELECT row_number() OVER (ORDER BY week, employee_id) AS id, grid.*,
       CASE WHEN capacity_hours > 0
            THEN 100.0 * billable_hours / capacity_hours END AS utilization,
       CASE WHEN target_hours > 0
            THEN 100.0 * billable_hours / target_hours END
            AS target_attainment,
       CASE WHEN capacity_hours > 0
            THEN 100.0 * allocated_hours / capacity_hours END
            AS allocation_rate
  FROM grid
"""

RATIOS = {
    "utilization": ("billable_hours", "capacity_hours"),
    "target_attainment": ("billable_hours", "target_hours"),
    "allocation_rate": ("allocated_hours", "capacity_hours"),
}


class PsaUtilizationReport(models.Model):
    _name = "psa.utilization.report"
    _description = "Utilization Report"
    _auto = False
    _order = "week desc, employee_id"

    week = fields.Date(readonly=True, help="Monday of the week.")
    employee_id = fields.Many2one("hr.employee", readonly=True)
    department_id = fields.Many2one("hr.department", string="Team", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    capacity_hours = fields.Float(readonly=True)
    target_hours = fields.Float(readonly=True)
    worked_hours = fields.Float(readonly=True)
    billable_hours = fields.Float(readonly=True)
    allocated_hours = fields.Float(readonly=True)
    utilization = fields.Float(
        string="Utilization (%)",
        readonly=True,
        aggregator="avg",
        help="Billable hours as a share of capacity.",
    )
    target_attainment = fields.Float(
        string="Target attainment (%)",
        readonly=True,
        aggregator="avg",
        help="Billable hours as a share of the target hours.",
    )
    allocation_rate = fields.Float(
        string="Allocated (%)",
        readonly=True,
        aggregator="avg",
        help="Allocated hours as a share of capacity.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE VIEW %s AS (%s)", SQL.identifier(self._table), SQL(VIEW_QUERY))
        )

    @api.model
    def read_group(  # noqa: PLR0917 - the signature of Odoo's read_group
        self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True
    ):
        """Group as usual, then recompute each ratio from the group's sums.

        An average of weekly percentages would weigh a short week like a
        full one; the ratio of the summed hours does not.
        """
        wanted = list(fields)
        for ratio, (numerator, denominator) in RATIOS.items():
            if any(name.split(":")[0] == ratio for name in wanted):
                wanted += [numerator, denominator]
        groups = super().read_group(
            domain,
            wanted,
            groupby,
            offset=offset,
            limit=limit,
            orderby=orderby,
            lazy=lazy,
        )
        for group in groups:
            for ratio, (numerator, denominator) in RATIOS.items():
                if ratio in group and group.get(denominator):
                    group[ratio] = 100.0 * (group[numerator] or 0) / group[denominator]
        return groups
