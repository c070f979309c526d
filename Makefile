# All targets build .venv from scratch when it is missing or pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-shifted bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/chatops serve

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check chatops integrations tests bench

clean:
	rm -rf $(VENV) .pytest_cache chatops.db chatops.db-wal chatops.db-shm chatops-sandbox.db*

# The suite with the wall clock moved in every process (tests/timeshift/sitecustomize.py): a
# weekday night, a Saturday afternoon, and a holiday morning in Tokyo.
SHIFTS ?= 2027-01-05T23:40:00+09:00 2027-03-13T15:00:00+09:00 2027-05-03T09:10:00+09:00
test-shifted: $(STAMP)
	@for moment in $(SHIFTS); do echo "== wall clock at $$moment"; \
	  CHATOPS_TIMESHIFT=$$moment PYTHONPATH=$(CURDIR)/tests/timeshift $(BIN)/python -m pytest -p no:cacheprovider || exit 1; done
