"""State every step of the demo shares: the Odoo client, the emulators, notes.

`Demo` carries the XML-RPC client, the running emulators and the fake firm
they were filled from, the backend ids, and the notes and counts the
summary prints. Its methods deliver webhooks the way each vendor does and
press buttons or run scheduled actions, turning a failure into a note.
"""

from datetime import date, timedelta

from tests.emulators.psa_events import post_events
from tests.emulators.senders import HubSpotWebhookSender, OutboundMessageSender

CRM_KINDS = ("hubspot", "salesforce")
PSA_KINDS = ("harvest", "productive")
PROJECT_PUSH_FLOW = "psa.project.push"
TIME_FLOW = "psa.time_entries"
EXPENSE_FLOW = "psa.expenses"
# Records that change in the CRM and reach Odoo by webhook in step 2.
WEBHOOK_CLIENTS = 6
FINANCE_LOGIN = "finance"


class Demo:
    """State the steps share: the Odoo client, the emulators and the findings."""

    def __init__(self, odoo, emulators, url, wait):
        self.odoo = odoo
        self.emulators = emulators
        self.url = url
        self.wait = wait
        self.firm = emulators.firm
        self.today = date.today()
        self.backends = {}
        self.webhook_secrets = {}
        self.steps = {}
        self.notes = []
        self.existing_partner_ids = []
        self.won_now = []
        self._outbound_sender = None

    def note(self, text):
        """Record a fact for the summary, such as a missing entry point."""
        print(f"    note: {text}")
        self.notes.append(text)

    def store(self, kind):
        """Return the data store of the emulator of `kind`."""
        return getattr(self.emulators, kind).store

    def webhook_url(self, kind):
        """Return the URL of Odoo's webhook route for the backend of `kind`."""
        route = "psa" if kind in PSA_KINDS else kind
        return f"{self.url}/integration/webhook/{route}/{self.backends[kind]}"

    def call_button(self, model, method, ids, *args, **kwargs):
        """Press a button; on an error, record a note and return None."""
        try:
            return self.odoo.call(model, method, ids, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - reported in the summary
            self.note(f"{model}.{method} on {ids} failed: {_first_line(error)}")
            return None

    def deliver_hubspot(self, events):
        """Post HubSpot events to Odoo's webhook route, signed as HubSpot signs."""
        sender = HubSpotWebhookSender(
            self.webhook_url("hubspot"), self.webhook_secrets["hubspot"]
        )
        deliveries = sender.send(events)
        failed = [delivery for delivery in deliveries if not delivery.delivered]
        if failed:
            self.note(f"{len(failed)} HubSpot webhook batches were not accepted.")
        return deliveries

    def outbound_sender(self):
        """Return the sender of Outbound Messages to Odoo's Salesforce route.

        One sender serves the whole demo because it numbers notification ids
        and Odoo stores each notification id once.
        """
        if self._outbound_sender is None:
            token = self.webhook_secrets["salesforce"]
            url = f"{self.webhook_url('salesforce')}?token={token}"
            org_id = self.store("salesforce").config.org_id
            self._outbound_sender = OutboundMessageSender(url, org_id)
        return self._outbound_sender

    def deliver_outbound(self, sender, notifications):
        """Send Outbound Messages until Odoo acknowledges them."""
        deliveries = sender.send(notifications)
        failed = [delivery for delivery in deliveries if not delivery.delivered]
        if failed:
            self.note(
                f"{len(failed)} Salesforce Outbound Messages were not acknowledged."
            )
        return deliveries

    def post_psa_events(self, kind):
        """Relay the PSA's queued change events to Odoo's PSA webhook route."""
        events = self.store(kind).take_events()
        if not events:
            self.note(f"{kind} queued no change event to send.")
            return events
        response = post_events(
            self.webhook_url(kind), self.webhook_secrets[kind], events
        )
        if response.status_code != 200:
            self.note(f"The {kind} webhook answered HTTP {response.status_code}.")
        return events

    @staticmethod
    def sobject_fields(record):
        """Return the fields an Outbound Message carries: the record's set values."""
        skipped = {"IsDeleted", "attributes"}
        return {
            name: value
            for name, value in record.items()
            if name not in skipped and value is not None and not isinstance(value, dict)
        }

    def run_cron(self, xml_id):
        """Run a scheduled action now; record a note when it is missing or fails."""
        try:
            found = self.odoo.run_cron(xml_id)
        except Exception as error:  # noqa: BLE001 - reported in the summary
            self.note(f"Scheduled action {xml_id} failed: {_first_line(error)}")
            return False
        if found is None:
            self.note(f"Scheduled action {xml_id} stayed busy; it was not run now.")
        elif not found:
            self.note(f"Scheduled action {xml_id} does not exist.")
        return found


def _first_line(error):
    text = getattr(error, "faultString", None) or str(error)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(error).__name__


def month_end(day):
    """Return the last day of the month of `day`."""
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return next_month - timedelta(days=1)


def switch_on(demo, kinds, codes):
    """Enable flows, as an administrator does on the backend's Flows tab."""
    flows = demo.odoo.search(
        "integration.flow",
        [
            ("backend_id", "in", [demo.backends[kind] for kind in kinds]),
            ("code", "in", codes),
        ],
    )
    demo.odoo.write("integration.flow", flows, {"enabled": True})
