# The two commands a newcomer needs: `make run` and `make test`. Everything else supports them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install browser demo-data ci clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Page tests drive Debian's chromium (Playwright's own browser download is not reachable here).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the page tests"; \
	  $$(test "$$(id -u)" = 0 || echo sudo) apt-get update -qq && \
	  $$(test "$$(id -u)" = 0 || echo sudo) apt-get install -y -qq chromium >/dev/null; }

DEMO_CREDENTIALS := examples/demo_app/credentials.json

## Installs everything, prepares the embedded database with demo data, serves the help desk at
## http://127.0.0.1:8000 and the demo app (a customer's side of a custom channel) at :8001
run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py seed_demo
	test -s $(DEMO_CREDENTIALS) || $(BIN)/python manage.py create_app "Demo app" --json > $(DEMO_CREDENTIALS)
	@echo "Demo app (write as a customer): http://127.0.0.1:8001"
	$(BIN)/python -m examples.demo_app --helpdesk http://127.0.0.1:8000 --credentials $(DEMO_CREDENTIALS) --port 8001 & \
	HELPDESK_EMBEDDED_SCHEDULER=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

## Installs everything and runs the whole test suite (embedded default: SQLite, in-process tasks)
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles .dev-secrets.json examples/demo_app/*.json
