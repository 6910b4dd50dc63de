"""Models of the crm_bridge addon."""
