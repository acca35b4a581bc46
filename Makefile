# `make run` serves the whole platform (PORT=, HOST=), `make admin EMAIL=` creates the first admin,
# `make test` runs the suite (.ci/run calls it).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed-stamp

.PHONY: run admin test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  # make run PORT=5601 HOST=0.0.0.0
	$(VENV)/bin/chorus up --host $(HOST) --port $(PORT)

admin: $(STAMP)  # make admin EMAIL=you@example.org: the first platform admin (asks for a password)
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=you@example.org" >&2; exit 2; }
	$(VENV)/bin/chorus admin create "$(EMAIL)" --role platform-admin

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python bench/sign.py

clean:
	rm -rf $(VENV) instance
