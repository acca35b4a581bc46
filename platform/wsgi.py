"""The WSGI entry for gunicorn: `gunicorn chorus.wsgi:app`."""

from chorus.app import create_app

app = create_app()
