"""Blueprints and everything between HTTP and the domain layer."""
