{
    "name": "Billing Sync",
    "summary": "Billing runs under finance control, accruals, three-way "
    "reconciliation and executive figures for a services firm",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Services Integration Suite",
    "website": "https://github.com/services-integration-suite",
    "depends": ["crm_bridge", "psa_connector", "sale_timesheet", "account"],
    "data": [
        "security/ir.model.access.csv",
    ],
    "installable": True,
}
