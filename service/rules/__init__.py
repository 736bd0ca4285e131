"""An organisation's rules: which body receives what (routing), the legal clocks (deadline rules
and how they are scheduled) and the calendar they are counted on.

May import: `service.models`, `service.platform`.
"""
