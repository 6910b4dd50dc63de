"""Plain-Python parts of the CRM bridge: normal forms, id checksums, JWTs,
the HubSpot and Salesforce clients, and the conversion of CRM records to the
neutral dicts the sync models work on. Nothing here reads the database."""
