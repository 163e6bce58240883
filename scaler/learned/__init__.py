"""The learned-policy runtime: reading and checking an export (manifest, checksums, schema) and
running its actor. No training code here."""
