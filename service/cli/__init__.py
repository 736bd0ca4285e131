"""Command-line tools: `flask --app wsgi <group> <command>`. Each command is one transaction,
committed by the command wrapper.

May import: any domain package. Never the web layer.
"""
