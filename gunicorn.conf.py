"""Gunicorn settings shipped with Hòm thư kín: `gunicorn -c gunicorn.conf.py wsgi:app`.

No access log: an access log line is a client address, a user agent and the precise time of a
request — for a reporter, exactly what must never be recorded (DESIGN.md, Anonymity). The
application logs staff requests itself, without addresses. Error log lines carry no client data:
gunicorn's own logger is replaced by one that stamps no time, names no reporter's path and no
client address (service/platform/gunicorn_log.py).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Uploads of several 20 MB files over slow links need time.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))

accesslog = None
disable_redirect_access_to_syslog = True
errorlog = "-"
logger_class = "service.platform.gunicorn_log.PrivateLogger"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Never trust X-Forwarded-For for anything: the app does not want the address at all.
forwarded_allow_ips = "127.0.0.1"
proxy_allow_ips = "127.0.0.1"
