"""The cheapest route that does the intake's kind of work, as a baseline.

It opens the database, inserts one row and commits, and nothing else: the
webhook benchmark divides the intake's rate by this route's rate.
"""

from odoo import http
from odoo.http import request


class TrivialIntake(http.Controller):
    @http.route(
        "/integration_test/trivial",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def trivial(self):
        body = request.httprequest.get_data(as_text=True)
        request.env.cr.execute(
            "INSERT INTO integration_test_ping (body, create_date) "
            "VALUES (%s, now() AT TIME ZONE 'UTC')",
            [body[:200]],
        )
        return request.make_response("ok", status=200)
