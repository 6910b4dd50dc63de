"""Billing run steps kept outside the ORM models: checkpoints and preview."""
