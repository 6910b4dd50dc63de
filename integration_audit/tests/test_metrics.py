"""The Prometheus route: its token guard, its format and its figures."""

import json
import re
import time

from odoo.addons.integration_audit.services import prometheus, signatures
from odoo.tests import HttpCase, TransactionCase, tagged

TOKEN = "metrics-token-6c0f1e2d9a"
PSA_SECRET = "psa-secret-for-metrics-77"
BACKEND_NAME = 'Harvest "EU"\\ops\nteam'
SAMPLE_PATTERN = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_PATTERN = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
FAMILIES = {
    "integration_queue_jobs": "gauge",
    "integration_queue_oldest_due_seconds": "gauge",
    "integration_jobs": "gauge",
    "integration_job_failures": "gauge",
    "integration_job_retries": "gauge",
    "integration_webhook_accepted_last_hour": "gauge",
    "integration_webhook_refusals_last_hour": "gauge",
    "integration_api_latency_seconds": "summary",
    "integration_open_exceptions": "gauge",
}


def unescape(value):
    return re.sub(r"\\(.)", lambda match: "\n" if match[1] == "n" else match[1], value)


def parse_samples(text):
    """Return {(name, frozenset of label pairs): value} of an exposition text."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE_PATTERN.match(line)
        if not match:
            raise AssertionError(f"Not a sample line: {line!r}")
        name, labels, value = match.groups()
        pairs = frozenset(
            (key, unescape(item)) for key, item in LABEL_PATTERN.findall(labels or "")
        )
        samples[name, pairs] = float(value)
    return samples


@tagged("post_install", "-at_install")
class TestMetricsRoute(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["integration.backend"].create(
            {"name": BACKEND_NAME, "kind": "harvest", "webhook_secret": PSA_SECRET}
        )
        Job = cls.env["integration.sync.job"]
        jobs = Job._enqueue_many(
            cls.backend,
            [
                {"flow": "psa.webhook", "idempotency_key": f"metrics:{n}"}
                for n in range(4)
            ]
            + [{"flow": "test.noop", "idempotency_key": "metrics:dead"}],
        )
        jobs[2].write({"state": "failed", "attempts": 3})
        jobs[3].write({"state": "done", "attempts": 1})
        jobs[4].write({"state": "dead", "attempts": 8})

        Exception_ = cls.env["integration.exception"]
        Exception_.create({"name": "Open one", "category": "other", "impact": "high"})
        Exception_.create(
            {
                "name": "Done one",
                "category": "other",
                "impact": "high",
                "state": "resolved",
            }
        )
        Audit = cls.env["integration.audit.log"]
        for duration in (100, 200, 300, 400):
            Audit._record(cls.backend, "outbound", duration_ms=duration, method="GET")

    def get_metrics(self, headers=None, query=""):
        return self.opener.get(
            f"{self.base_url()}/integration/metrics{query}", headers=headers, timeout=20
        )

    def scrape(self):
        self.env["ir.config_parameter"].set_param(
            "integration_audit.metrics_token", TOKEN
        )
        response = self.get_metrics({"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(response.status_code, 200, response.text)
        return response.text

    def sample(self, samples, name, **labels):
        key = (name, frozenset((key, str(value)) for key, value in labels.items()))
        self.assertIn(key, samples, f"{name} {labels} is missing")
        return samples[key]

    def backend_labels(self):
        return {"backend_id": self.backend.id, "backend": BACKEND_NAME}

    # ------------------------------------------------------------------
    # Guard
    # ------------------------------------------------------------------

    def test_unconfigured_token_404(self):
        self.env["ir.config_parameter"].set_param(
            "integration_audit.metrics_token", False
        )
        response = self.get_metrics({"Authorization": "Bearer anything"})
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("integration_", response.text)

    def test_missing_token_401(self):
        self.env["ir.config_parameter"].set_param(
            "integration_audit.metrics_token", TOKEN
        )
        response = self.get_metrics()
        self.assertEqual(response.status_code, 401)
        self.assertIn("Bearer", response.headers["WWW-Authenticate"])
        self.assertNotIn("integration_queue_jobs", response.text)

    def test_wrong_token_401(self):
        self.env["ir.config_parameter"].set_param(
            "integration_audit.metrics_token", TOKEN
        )
        for headers, query in (
            ({"Authorization": "Bearer wrong-token"}, ""),
            ({"Authorization": f"Basic {TOKEN}"}, ""),
            (None, "?token=wrong-token"),
        ):
            with self.subTest(headers=headers, query=query):
                self.assertEqual(self.get_metrics(headers, query).status_code, 401)

    def test_bearer_token_200(self):
        self.env["ir.config_parameter"].set_param(
            "integration_audit.metrics_token", TOKEN
        )
        response = self.get_metrics({"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], prometheus.CONTENT_TYPE)

    def test_query_token_200(self):
        self.env["ir.config_parameter"].set_param(
            "integration_audit.metrics_token", TOKEN
        )
        response = self.get_metrics(query=f"?token={TOKEN}")
        self.assertEqual(response.status_code, 200)

    # ------------------------------------------------------------------
    # Format and figures
    # ------------------------------------------------------------------

    def test_every_family_has_help_and_type(self):
        text = self.scrape()
        lines = text.splitlines()
        for name, kind in FAMILIES.items():
            with self.subTest(family=name):
                help_line = lines.index(
                    next(line for line in lines if line.startswith(f"# HELP {name} "))
                )
                self.assertEqual(lines[help_line + 1], f"# TYPE {name} {kind}")
        self.assertTrue(text.endswith("\n"))
        parse_samples(text)

    def test_queue_depth_by_state(self):
        samples = parse_samples(self.scrape())
        expected = {"pending": 2, "running": 0, "done": 1, "failed": 1, "dead": 1}
        for state, count in expected.items():
            with self.subTest(state=state):
                value = self.sample(
                    samples,
                    "integration_queue_jobs",
                    state=state,
                    **self.backend_labels(),
                )
                self.assertEqual(value, count)

    def test_jobs_failures_retries_by_flow(self):
        samples = parse_samples(self.scrape())
        labels = dict(self.backend_labels(), flow="psa.webhook")
        self.assertEqual(self.sample(samples, "integration_jobs", **labels), 4)
        self.assertEqual(self.sample(samples, "integration_job_failures", **labels), 1)
        self.assertEqual(self.sample(samples, "integration_job_retries", **labels), 2)
        labels["flow"] = "test.noop"
        self.assertEqual(self.sample(samples, "integration_jobs", **labels), 1)
        self.assertEqual(self.sample(samples, "integration_job_failures", **labels), 1)
        self.assertEqual(self.sample(samples, "integration_job_retries", **labels), 7)

    def test_webhook_refusals_by_status(self):
        before = parse_samples(self.scrape())
        unknown = {"backend_id": "", "backend": "", "status": 404}
        unknown_before = before.get(
            (
                "integration_webhook_refusals_last_hour",
                frozenset((k, str(v)) for k, v in unknown.items()),
            ),
            0,
        )
        path = f"/integration/webhook/psa/{self.backend.id}"
        body = json.dumps(
            {"id": "m-1", "type": "time_entry.created", "object": {"id": 1}}
        )
        timestamp = str(int(time.time()))
        good = {
            "X-Timestamp": timestamp,
            "X-Signature": signatures.psa_signature(PSA_SECRET, timestamp, body),
        }
        bad = dict(good, **{"X-Signature": "0" * 64})
        self.assertEqual(
            self.opener.post(
                self.base_url() + path, data=body, headers=bad
            ).status_code,
            401,
        )
        self.assertEqual(
            self.opener.post(
                self.base_url() + path, data=body, headers=good
            ).status_code,
            200,
        )
        missing = self.opener.post(
            self.base_url() + "/integration/webhook/psa/2147483001", data=body
        )
        self.assertEqual(missing.status_code, 404)

        samples = parse_samples(self.scrape())
        refusals = dict(self.backend_labels(), status=401)
        self.assertEqual(
            self.sample(samples, "integration_webhook_refusals_last_hour", **refusals),
            1,
        )
        self.assertEqual(
            self.sample(
                samples,
                "integration_webhook_accepted_last_hour",
                **self.backend_labels(),
            ),
            1,
        )
        self.assertEqual(
            self.sample(samples, "integration_webhook_refusals_last_hour", **unknown),
            unknown_before + 1,
        )

    def test_api_latency_summary(self):
        samples = parse_samples(self.scrape())
        labels = self.backend_labels()
        name = "integration_api_latency_seconds"
        self.assertAlmostEqual(self.sample(samples, name, quantile=0.5, **labels), 0.25)
        self.assertAlmostEqual(self.sample(samples, name, quantile=0.9, **labels), 0.37)
        self.assertAlmostEqual(self.sample(samples, name + "_sum", **labels), 1.0)
        self.assertEqual(self.sample(samples, name + "_count", **labels), 4)

    def test_open_exceptions_by_category_and_impact(self):
        expected = self.env["integration.exception"].search_count(
            [
                ("state", "in", ("new", "in_progress")),
                ("category", "=", "other"),
                ("impact", "=", "high"),
            ]
        )
        samples = parse_samples(self.scrape())
        value = self.sample(
            samples, "integration_open_exceptions", category="other", impact="high"
        )
        self.assertGreaterEqual(expected, 1)
        self.assertEqual(value, expected)

    def test_label_values_escaped(self):
        text = self.scrape()
        self.assertIn('backend="Harvest \\"EU\\"\\\\ops\\nteam"', text)


@tagged("post_install", "-at_install")
class TestPrometheusFormat(TransactionCase):
    def test_render_family(self):
        family = prometheus.Family("demo_total", "counter", "Demo\\help\nsecond line.")
        family.add(3, code="200")
        family.add(0.5, suffix="_sum")
        self.assertEqual(
            prometheus.render([family]),
            "# HELP demo_total Demo\\\\help\\nsecond line.\n"
            "# TYPE demo_total counter\n"
            'demo_total{code="200"} 3\n'
            "demo_total_sum 0.5\n",
        )

    def test_special_values(self):
        family = prometheus.Family("demo", "gauge", "Demo.")
        for value in (None, float("nan"), float("inf"), float("-inf"), 2.0, 1e20):
            family.add(value)
        lines = prometheus.render([family]).splitlines()[2:]
        self.assertEqual(
            lines,
            ["demo NaN", "demo NaN", "demo +Inf", "demo -Inf", "demo 2", "demo 1e+20"],
        )

    def test_label_escaping(self):
        family = prometheus.Family("demo", "gauge", "Demo.")
        family.add(1, name='a"b\\c\nd')
        self.assertIn('demo{name="a\\"b\\\\c\\nd"} 1', prometheus.render([family]))
