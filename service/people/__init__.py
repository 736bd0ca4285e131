"""Staff accounts and their sign-in: passwords, the two-step login, staff and reporter sessions.

May import: `service.audit`, `service.mail`, `service.rules`, `service.sealing`, `service.models`,
`service.platform`. Never `service.cases`, `service.admin` or the web layer.
"""
