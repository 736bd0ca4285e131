"""Mail through the transactional outbox: writing it (in the change's own transaction),
delivering it, the scheduled runs that must happen once, the daily digest.

May import: `service.rules`, `service.audit`, `service.sealing`, `service.models`,
`service.platform`.
"""
