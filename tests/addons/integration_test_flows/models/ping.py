"""One row per request of the trivial route the intake is measured against."""

from odoo import fields, models


class IntegrationTestPing(models.Model):
    _name = "integration.test.ping"
    _description = "Integration Test Ping"

    body = fields.Text()
