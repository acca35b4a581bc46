# Two commands: `make run` serves the whole platform, `make test` runs the suite (.ci/run calls it).
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean i18n

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/chorus up

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
	$(VENV)/bin/python bench/sign.py

clean:
	rm -rf $(VENV) instance
