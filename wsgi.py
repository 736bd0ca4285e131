"""What gunicorn and `flask --app wsgi` load."""

from service import create_app

app = create_app()
