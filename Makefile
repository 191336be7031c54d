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

# Contract suites against real instances: all of them, or one provider's with
# `make contract SERVICE=pricing` (its file, plus the gateway's expectations of it).
CONTRACT_SERVICES := $(filter-out gateway_expectations,\
	$(patsubst tests/contract/test_%.py,%,$(wildcard tests/contract/test_*.py)))

contract: $(STAMP)
ifdef SERVICE
	@$(if $(filter $(SERVICE),$(CONTRACT_SERVICES)),true,\
		echo "make contract: no contract suite for SERVICE=$(SERVICE);" \
		"choose one of: $(CONTRACT_SERVICES)" >&2; exit 2)
	$(BIN)/python -m pytest tests/contract/test_$(SERVICE).py \
		tests/contract/test_gateway_expectations.py -k "$(SERVICE)" -v
else
	$(BIN)/python -m pytest tests/contract -v
endif

lint: $(STAMP)
	$(BIN)/ruff check .

# Benchmarks, not tests (about a minute, real processes on loopback): rewrites
# docs/BENCHMARKS.md. Options: $(BIN)/python -m bench.fanout --help
bench: $(STAMP)
	$(BIN)/python -m bench.fanout

clean:
	rm -rf $(VENV) var
