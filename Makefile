# Two commands: `make run` builds the demo council, matches its queue and serves the API;
# `make test` runs the tests.
# Both create (once) and reuse a virtual environment in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# The DfE's SSDA903 validator pins pandas < 2 and numpy < 1.25 (wheels up to Python 3.11), so it
# gets an environment of its own; the tests call it there on placematch's SSDA903 export.
DFE903_VERSION := 0.1.17
DFE903 := .venv-dfe903
DFE903_STAMP := $(DFE903)/.installed-$(DFE903_VERSION)

.PHONY: run test demo-reset clean dfe903

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "placematch needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

$(DFE903_STAMP):
	@PY=$$(command -v python3.11 || echo $(PYTHON)); \
	  $$PY -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "the DfE validator needs Python 3.11 (python3.11)")' && \
	  rm -rf $(DFE903) && $$PY -m venv $(DFE903)
	$(DFE903)/bin/python -m pip install --quiet --disable-pip-version-check csc-validator-be-903==$(DFE903_VERSION)
	@touch $@

dfe903: $(DFE903_STAMP)

run: $(STAMP)
	$(BIN)/placematch demo --users
	$(BIN)/placematch match --out out/match
	$(BIN)/placematch serve

test: $(STAMP) $(DFE903_STAMP)
	$(BIN)/python -m pytest -q

demo-reset: $(STAMP)
	$(BIN)/placematch demo --reset

clean:
	rm -rf $(VENV) $(DFE903) placematch.db .pytest_cache .hypothesis
