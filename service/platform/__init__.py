"""The platform every domain package stands on: the database and its unit of work, the clock,
the domain's errors, logging that identifies no one, Flask extensions and migrations.

May import: nothing of the application's own but `service.models` (and `config`).
"""
