# Hòm thư kín — the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRANSLATIONS := service/translations
HOST ?= 127.0.0.1
PORT ?= 5000
MAIL_PORT ?= 8025

.PHONY: run test lint format translations extract-messages update-catalogs clean-venv

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %d.%d)" % sys.version_info[:2])'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	# Every file is checked against its pinned hash: nothing unpinned is fetched, not even pip.
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

# Compiled catalogs (.mo) are build products, not committed.
translations: $(STAMP)
	$(BIN)/pybabel compile -d $(TRANSLATIONS) -D messages

# Development server: migrate, seed the DEMO organisation (once), serve on http://$(HOST):$(PORT),
# with a local SMTP sink on $(MAIL_PORT) and the outbox worker delivering to it: the mail the app
# sends shows on http://$(HOST):$(PORT)/dev/mail (development only). Ctrl-C stops all three.
DEV_ENV = HOMTHU_ENV=development MAIL_SERVER=127.0.0.1 MAIL_PORT=$(MAIL_PORT) \
	PUBLIC_BASE_URL=http://$(HOST):$(PORT) OUTBOX_POLL_SECONDS=2
run: translations
	$(DEV_ENV) $(BIN)/flask --app wsgi db upgrade
	$(DEV_ENV) $(BIN)/flask --app wsgi demo seed
	@trap 'kill 0' INT TERM EXIT; \
	$(DEV_ENV) $(BIN)/flask --app wsgi dev mail-sink --port $(MAIL_PORT) & \
	$(DEV_ENV) $(BIN)/flask --app wsgi outbox send --loop & \
	$(DEV_ENV) $(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

# The whole suite: SQLite always, PostgreSQL too when TEST_DATABASE_URL is set.
test: translations
	$(BIN)/python -m pytest

# Every house rule a tool can check (docs/design-notes.md, "House rules"); .ci/run runs it first.
# Every tool runs even when one fails, so one run shows every broken rule; any failure fails it.
lint: $(STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/ast-grep test --skip-snapshot-tests || status=1; \
	$(BIN)/ast-grep scan || status=1; \
	$(BIN)/lint-imports || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l --no-location --sort-output -o $(TRANSLATIONS)/messages.pot .

update-catalogs: extract-messages
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete

clean-venv:
	rm -rf $(VENV)
