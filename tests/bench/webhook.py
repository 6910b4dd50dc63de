"""`webhook_vs_trivial_route`: the HubSpot intake against the cheapest route.

Odoo runs as a real server with two HTTP workers on loopback. The load
generator posts signed HubSpot v3 batches of 100 events to
`/integration/webhook/hubspot/<id>`, which verifies each batch and stores
one sync job per event before it responds. The baseline posts the same
bodies to `/integration_test/trivial` (test-only addon), which opens the
database, inserts one row and commits. The ratio is batches stored per
second divided by trivial requests per second, at the same concurrency;
the two alternate in rounds and the ratio is the median of the rounds.
"""

import itertools
import json
import statistics
import time

from .committed import delete_backend_data
from .context import superuser_env
from .load import PreparedRequest, run_load
from .servers import OdooServer
from .signing import hubspot_v3_headers

EVENTS_PER_BATCH = 100
SECRET = "bench-webhook-secret"
SUBSCRIPTIONS = ("contact.propertyChange", "company.propertyChange", "deal.creation")


def create_backend(registry):
    with superuser_env(registry) as env:
        values = {
            "name": "Benchmark HubSpot intake",
            "kind": "hubspot",
            "webhook_secret": SECRET,
            "hubspot_signature_versions": "v3",
        }
        if "webhook_max_pending_jobs" in env["integration.backend"]._fields:
            # The benchmark stores more jobs than the default saturation cap.
            values["webhook_max_pending_jobs"] = 0
        return env["integration.backend"].create(values).id


def hubspot_batch(event_ids, portal_id=62515):
    """Return the raw body of one HubSpot batch with the given event ids."""
    now_ms = int(time.time() * 1000)
    events = [
        {
            "eventId": event_id,
            "subscriptionId": 4100 + event_id % 3,
            "portalId": portal_id,
            "appId": 54321,
            "occurredAt": now_ms - event_id % 1000,
            "subscriptionType": SUBSCRIPTIONS[event_id % 3],
            "attemptNumber": 0,
            "objectId": 900000 + event_id,
            "changeSource": "CRM",
            "propertyName": "lifecyclestage",
            "propertyValue": "customer",
        }
        for event_id in event_ids
    ]
    return json.dumps(events).encode()


def prepare_round(server, backend_id, event_counter, batches):
    """Build one round of intake requests and trivial requests of the same bodies."""
    intake_url = f"{server.url}/integration/webhook/hubspot/{backend_id}"
    trivial_url = f"{server.url}/integration_test/trivial"
    intake, trivial = [], []
    for _batch in range(batches):
        ids = [next(event_counter) for _event in range(EVENTS_PER_BATCH)]
        body = hubspot_batch(ids)
        intake.append(
            PreparedRequest(
                intake_url, hubspot_v3_headers(SECRET, intake_url, body), body
            )
        )
        trivial.append(
            PreparedRequest(trivial_url, {"Content-Type": "application/json"}, body)
        )
    return intake, trivial


def stored_events(registry, backend_id):
    with superuser_env(registry) as env:
        env.cr.execute(
            "SELECT count(*) FROM integration_sync_job WHERE backend_id = %s",
            [backend_id],
        )
        return env.cr.fetchone()[0]


def cleanup(registry, backend_id):
    delete_backend_data(registry, backend_id)
    with superuser_env(registry) as env:
        env.cr.execute("DELETE FROM integration_test_ping")


def check_all_ok(result, label):
    if result.statuses != {200: result.sent}:
        raise RuntimeError(
            f"{label}: unexpected responses {result.statuses}; see the server log"
        )


def run_rounds(server, backend_id, options):
    """Alternate intake and trivial loads; return their results per round."""
    event_counter = itertools.count(1)
    warm_intake, warm_trivial = prepare_round(server, backend_id, event_counter, 8)
    run_load(warm_intake + warm_trivial, threads=options["threads"])
    rounds = []
    for _round in range(options["rounds"]):
        intake, trivial = prepare_round(
            server, backend_id, event_counter, options["batches"]
        )
        intake_result = run_load(intake, options["threads"], options["time_cap"])
        trivial_result = run_load(trivial, options["threads"], options["time_cap"])
        check_all_ok(intake_result, "intake")
        check_all_ok(trivial_result, "trivial route")
        rounds.append((intake_result, trivial_result))
    return rounds


def measure(registry, database, addons_path, port, **options):
    """Return the intake's figures against the trivial route's.

    `options`: batches (per round), rounds, threads, time_cap (seconds per
    load), data_dir.
    """
    options = {"batches": 100, "rounds": 3, "threads": 4, "time_cap": 120.0, **options}
    backend_id = create_backend(registry)
    server = OdooServer(
        database, port, addons_path, workers=2, data_dir=options.get("data_dir")
    )
    try:
        with server:
            rounds = run_rounds(server, backend_id, options)
        stored = stored_events(registry, backend_id)
    finally:
        cleanup(registry, backend_id)
    return summarize(rounds, stored)


def summarize(rounds, stored):
    """Turn the rounds' results into the printed figures."""
    sent = sum(intake.sent for intake, _trivial in rounds) + 8
    if stored != sent * EVENTS_PER_BATCH:
        raise RuntimeError(f"{sent} batches acknowledged but {stored} events stored")
    latencies = [latency for intake, _trivial in rounds for latency in intake.latencies]
    intake_time = sum(intake.elapsed for intake, _trivial in rounds)
    trivial_time = sum(trivial.elapsed for _intake, trivial in rounds)
    batches = sum(intake.sent for intake, _trivial in rounds)
    merged = type(rounds[0][0])(latencies=latencies)
    return {
        "ratios": {
            "webhook_vs_trivial_route": statistics.median(
                intake.rate / trivial.rate for intake, trivial in rounds
            )
        },
        "absolute": {
            "webhook_batches": batches,
            "webhook_batches_per_s": batches / intake_time,
            "webhook_events_per_s": batches * EVENTS_PER_BATCH / intake_time,
            "webhook_p50_ms": merged.percentile(0.50) * 1000,
            "webhook_p99_ms": merged.percentile(0.99) * 1000,
            "trivial_requests_per_s": batches / trivial_time,
        },
    }
