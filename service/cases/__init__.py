"""Cases from filing to shredding: intake, reading and the conversation, the lifecycle (the one
place a status changes), custody and handover of keys, the reporter's voice, publication,
retention, and the queries behind the list, the case page and the timeline.

May import: `service.people`, `service.mail`, `service.audit`, `service.rules`,
`service.sealing`, `service.models`, `service.platform`. Never the web layer, `service.admin`,
`service.reporting` or `service.cli`.
"""
