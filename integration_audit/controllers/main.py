"""HTTP routes of the integration core: webhook intake and metrics."""
