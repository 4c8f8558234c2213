# Two commands: `make run` builds the demo council, matches its queue and serves the API;
# `make test` runs the tests.
# Both create (once) and reuse a virtual environment in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test demo-reset clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "placematch needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(BIN)/placematch demo --users
	$(BIN)/placematch match --out out/match
	$(BIN)/placematch serve

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo-reset: $(STAMP)
	$(BIN)/placematch demo --reset

clean:
	rm -rf $(VENV) placematch.db .pytest_cache .hypothesis
