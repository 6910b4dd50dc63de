"""PSA clients and the import machinery of the psa_connector addon.

The clients (`harvest`, `productive`) speak one PSA's wire format and turn
its records into the plain shapes of `records`; everything after that
(validation, the import of a page, the batch run) reads only those shapes,
so it works the same for every PSA and for the file import.
"""
