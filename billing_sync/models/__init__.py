"""Models of the billing_sync addon."""
