"""What an administrator does: the organisation, its bodies and settings, invitations and
password resets. Nothing here opens a case.

May import: the domain packages below it (`cases`, `people`, `mail`, `audit`, `rules`,
`models`, `platform`). Never the web layer or `service.cli`.
"""
