# ccpq: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)

.PHONY: install run test bench lint check-migrations lock clean

N ?= 500
DB ?= sqlite postgres
SAVE_SECONDS ?= 20

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/ccpq db upgrade
	$(BIN)/ccpq banks import question_banks/
	$(BIN)/ccpq demo
	$(BIN)/ccpq serve

test: install
	$(BIN)/pytest

# Load benchmark, loopback only (not part of `make test`): `make bench N=2000 DB=postgres`.
bench: install
	for db in $(DB); do \
	  $(BIN)/python -m tests.bench.run --candidates $(N) --db $$db --save-seconds $(SAVE_SECONDS) || exit 1; \
	done

lint: install
	$(BIN)/ruff check .

# Models and migrations never drift, and migrations go down and up again.
check-migrations: install
	$(BIN)/alembic upgrade head
	$(BIN)/alembic check
	$(BIN)/alembic downgrade base
	$(BIN)/alembic upgrade head

# Re-pin every dependency (needs `uv`): the lock is what `make install` installs.
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
