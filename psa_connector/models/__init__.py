"""Models of the psa_connector addon."""
