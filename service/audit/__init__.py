"""The append-only, hash-chained audit trail: recording events and verifying the chain.

May import: `service.models`, `service.platform`. Reading a case's timeline lives in
`service.cases.timeline` (it needs the case's access check).
"""
