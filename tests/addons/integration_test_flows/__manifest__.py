{
    "name": "Integration Test Flows",
    "summary": "Test-only flows and a trivial route for the suite's tests and benchmarks",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "license": "LGPL-3",
    "author": "Services Integration Suite",
    "depends": ["integration_audit", "billing_sync"],
    "data": ["security/ir.model.access.csv"],
    "assets": {
        "web.assets_tests": [
            "integration_test_flows/static/tests/tours/*.js",
        ],
    },
    "installable": True,
}
