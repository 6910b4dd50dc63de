{
    "name": "CRM Bridge",
    "summary": "HubSpot and Salesforce accounts, contacts and won deals to Odoo "
    "partners, sale orders and projects, with invoice status back to the deal",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "Services Integration Suite",
    "website": "https://github.com/services-integration-suite",
    "depends": ["integration_audit", "sale_project", "sale_timesheet", "crm"],
    "external_dependencies": {
        "python": ["requests", "phonenumbers", "python-stdnum", "cryptography"]
    },
    "data": [
        "security/ir.model.access.csv",
        "security/crm_bridge_rules.xml",
        "data/product_data.xml",
        "data/ir_cron.xml",
        "views/integration_backend_views.xml",
        "views/crm_bridge_pipeline_views.xml",
        "views/integration_exception_views.xml",
        "views/res_partner_views.xml",
        "views/sale_order_views.xml",
        "views/project_project_views.xml",
    ],
    "installable": True,
}
