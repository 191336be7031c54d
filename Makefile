# ZeroShop: `make run` starts the platform, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test contract lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/zeroshop up

test: $(STAMP)
	$(BIN)/python -m pytest

# One service's contract suite against a real instance: make contract SERVICE=pricing
contract: $(STAMP)
	$(BIN)/python -m pytest tests/contract $(if $(SERVICE),-k "$(SERVICE)",) -v

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench.fanout

clean:
	rm -rf $(VENV) var
