"""One customer across networks and the customer's data lifecycle: `network:handle` keys,
linked records (the same person on X and LINE), export, erasure, retention and the audit log.

See docs/customers.md (linking) and docs/operations.md (data lifecycle). Nothing here is
imported by ingest's hot path except through the Recorder's projectors.
"""
