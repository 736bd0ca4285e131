"""Everything that uses `crypto/` on the application's behalf: case keys and their wraps, sealed
fields and files, the server-secret sealer, stripping identifying metadata from what is stored.

The only package that imports `crypto` (ruff's banned-api rule enforces it).
May import: `service.models`, `service.platform`.
"""
