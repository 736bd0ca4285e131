"""Numbers, never content: the statistics, the monthly summary, the 6-month and annual reports,
and small-cell protection for what is published.

May import: `service.mail`, `service.audit`, `service.rules`, `service.models`,
`service.platform`. Never `service.sealing`: nothing here opens a case.
"""
