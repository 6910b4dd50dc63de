"""Step 7 of the demo: four faults a live integration meets, each survived.

- A rate-limit storm: HubSpot rejects a burst of reads with 429 and
  Retry-After; the jobs wait, retry and all end done.
- An expired token: Salesforce forgets every session; the HTTP client gets
  a 401, fetches a new token once and repeats the request.
- A duplicate webhook delivery: HubSpot posts the same batch twice; the
  second delivery is acknowledged and stores nothing.
- A timesheet on a locked period: finance locks the sales books up to the
  last billed month, then a consultant records late time in it; the entry
  waits in the exception queue instead of changing a closed month.

Each fault records when it started, so its count reads only what followed.
"""

import time
from datetime import timedelta

# HubSpot company changes sent during the storm, and the 429 responses.
STORM_RECORDS = 12
STORM_REJECTIONS = 10
STORM_RETRY_AFTER_SECONDS = 2
DUPLICATE_RECORDS = 3
LATE_ENTRY_MINUTES = 90


def faults(demo):
    """Run the four faults one after the other, waiting for each to heal."""
    demo.fault_marks = {}
    _rate_limit_storm(demo)
    demo.wait()
    _expired_token(demo)
    demo.wait()
    _duplicate_delivery(demo)
    demo.wait()
    _locked_period(demo)


def _mark(demo, name):
    """Remember the server time a fault starts, as Odoo writes datetimes."""
    demo.fault_marks[name] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def _rate_limit_storm(demo):
    """Sales reps edit a dozen companies; HubSpot throttles the reads that follow."""
    store = demo.store("hubspot")
    store.take_events()
    for client in demo.firm.clients_in("hubspot")[:STORM_RECORDS]:
        store.update("companies", store.firm_ids[client.key], {"phone": client.phone})
    _mark(demo, "rate_limit")
    demo.emulators.hubspot.faults.status(
        429,
        times=STORM_REJECTIONS,
        retry_after=STORM_RETRY_AFTER_SECONDS,
        path="/crm/v3/objects/companies",
    )
    demo.deliver_hubspot(store.take_events())


def _expired_token(demo):
    """Salesforce ends every session, then an account change arrives by id only.

    An Outbound Message with the Id alone makes the bridge read the account
    again, with a token Salesforce no longer accepts.
    """
    store = demo.store("salesforce")
    client = demo.firm.clients_in("salesforce")[-1]
    record = store.update(
        "Account", store.firm_ids[client.key], {"Phone": client.phone_e164}
    )
    _mark(demo, "expired_token")
    demo.emulators.salesforce.faults.expire_tokens()
    sender = demo.outbound_sender()
    notification = sender.notification(
        "Account", {"Id": record["Id"], "SystemModstamp": record["SystemModstamp"]}
    )
    demo.deliver_outbound(sender, [notification])


def _duplicate_delivery(demo):
    """Post the same HubSpot batch twice, as HubSpot does after a lost response."""
    store = demo.store("hubspot")
    store.take_events()
    contacts = [contact for contact in demo.firm.contacts if contact.crm == "hubspot"]
    for contact in contacts[-DUPLICATE_RECORDS:]:
        store.update(
            "contacts", store.firm_ids[contact.key], {"phone": contact.phone_e164}
        )
    events = store.take_events()
    demo.duplicate_keys = [f"hubspot:event:{event['eventId']}" for event in events]
    _mark(demo, "duplicate")
    demo.deliver_hubspot(events)
    demo.deliver_hubspot(events)


def _locked_period(demo):
    """Finance locks the billed months; late time for one of them then arrives."""
    locked_until = demo.firm.locked_until
    demo.call_button(
        "res.company", "write", [demo.company_id], {"sale_lock_date": str(locked_until)}
    )
    project = next(p for p in demo.firm.projects if p.psa == "harvest")
    store = demo.store("harvest")
    store.take_events()
    _mark(demo, "locked_period")
    store.create(
        "time_entries",
        user_id=store.id_of(project.manager_key),
        project_id=store.id_of(project.key),
        task_id=store.id_of(project.task_keys[0]),
        spent_date=locked_until - timedelta(days=2),
        minutes=LATE_ENTRY_MINUTES,
        notes="Workshop follow-up, recorded late",
        billable=True,
        approval_status="approved",
    )
    demo.post_psa_events("harvest")


def count_faults(demo):
    """Return the evidence of each fault: what happened and how it ended."""
    return {
        "rate_limit_storm": _storm_evidence(demo),
        "expired_token": _token_evidence(demo),
        "duplicate_delivery": _duplicate_evidence(demo),
        "locked_period": _lock_evidence(demo),
    }


def _audit_since(demo, mark, kind, domain):
    return demo.odoo.count(
        "integration.audit.log",
        [
            ("create_date", ">=", demo.fault_marks[mark]),
            ("backend_id", "=", demo.backends[kind]),
            *domain,
        ],
    )


def _jobs_since(demo, mark, kind, domain):
    return demo.odoo.grouped_count(
        "integration.sync.job",
        "state",
        [
            ("create_date", ">=", demo.fault_marks[mark]),
            ("backend_id", "=", demo.backends[kind]),
            *domain,
        ],
    )


def _storm_evidence(demo):
    return {
        "http_429_answers": _audit_since(
            demo, "rate_limit", "hubspot", [("status_code", "=", 429)]
        ),
        "jobs_retried": demo.odoo.count(
            "integration.sync.job",
            [
                ("create_date", ">=", demo.fault_marks["rate_limit"]),
                ("backend_id", "=", demo.backends["hubspot"]),
                ("attempts", ">", 1),
            ],
        ),
        "jobs_by_state": _jobs_since(demo, "rate_limit", "hubspot", []),
    }


def _token_evidence(demo):
    return {
        "http_401_answers": _audit_since(
            demo, "expired_token", "salesforce", [("status_code", "=", 401)]
        ),
        "tokens_fetched": _audit_since(
            demo,
            "expired_token",
            "salesforce",
            [("endpoint", "ilike", "oauth2/token"), ("status_code", "=", 200)],
        ),
        "jobs_by_state": _jobs_since(demo, "expired_token", "salesforce", []),
    }


def _duplicate_evidence(demo):
    return {
        "events_delivered_twice": len(demo.duplicate_keys),
        "jobs_stored": demo.odoo.count(
            "integration.sync.job",
            [
                ("backend_id", "=", demo.backends["hubspot"]),
                ("idempotency_key", "in", demo.duplicate_keys),
            ],
        ),
        "deliveries_acknowledged_as_known": _audit_since(
            demo, "duplicate", "hubspot", [("message", "ilike", "0 new events stored")]
        ),
    }


def _lock_evidence(demo):
    return {
        "sale_lock_date": str(demo.firm.locked_until),
        "locked_period_exceptions_opened": demo.odoo.count(
            "integration.exception",
            [
                ("category", "=", "locked_period"),
                ("state", "in", ("new", "in_progress")),
                ("write_date", ">=", demo.fault_marks["locked_period"]),
            ],
        ),
        "timesheets_in_locked_months_after_lock": demo.odoo.count(
            "account.analytic.line",
            [
                ("create_date", ">=", demo.fault_marks["locked_period"]),
                ("date", "<=", str(demo.firm.locked_until)),
            ],
        ),
    }
