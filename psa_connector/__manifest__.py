{
    "name": "PSA Connector",
    "summary": "Harvest and Productive people, projects, approved time, expenses "
    "and staffing to Odoo timesheets and expenses",
    "version": "18.0.1.0.0",
    "category": "Services/Timesheets",
    "license": "LGPL-3",
    "author": "Services Integration Suite",
    "website": "https://github.com/services-integration-suite",
    "depends": [
        "integration_audit",
        "hr_timesheet",
        "sale_timesheet",
        "hr_expense",
        "sale_expense",
    ],
    "external_dependencies": {"python": ["requests", "openpyxl"]},
    "data": [
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
    ],
    "installable": True,
}
