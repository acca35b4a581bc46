# `make run` serves the whole platform (PORT=, HOST=), `make admin EMAIL=` creates the first admin,
# `make test` runs the suite (.ci/run calls it).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed-stamp

.PHONY: run admin test lint bench clean i18n

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

# New strings: extract every _() / ngettext / lazy_gettext into the catalogues, then write the Spanish
# in platform/translations/es/LC_MESSAGES/messages.po. The app reads the .po files themselves (no
# compiled .mo in git); `compile` only checks them and reports what is still untranslated.
i18n: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k lazy_gettext -k _l --no-location --sort-output \
		--project Chorus -o platform/translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i platform/translations/messages.pot -d platform/translations \
		--no-fuzzy-matching --ignore-obsolete --width 120
	sed -i '/^"POT-Creation-Date/d' platform/translations/*/LC_MESSAGES/messages.po  # a date every branch changes: merge conflicts
	$(VENV)/bin/pybabel compile --statistics -d platform/translations

bench: $(STAMP)
	$(VENV)/bin/python bench/all.py

clean:
	rm -rf $(VENV) instance
