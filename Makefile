# ZeroShop: `make run` starts the platform, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test chaos contract contracts-check contracts-snapshot contracts-docs lint bench bench-events bench-s1 clean
.PHONY: load bench-cold-start bench-memory

# pip is quiet, so say what takes the time (a newcomer would think `make run` hung).
$(STAMP): pyproject.toml
	@echo "installing ZeroShop into $(VENV) (about 30-60 s on first run) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@echo "installed; the CLI is ./zeroshop (./zeroshop --help)"

# `make run DB=postgres`: every service on the local PostgreSQL ($(POSTGRES_URL)), one
# database each (zeroshop_<service>), created on first start.
POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
run: $(STAMP)
	@$(if $(filter-out sqlite postgres,$(or $(DB),sqlite)),\
		echo "make run: DB must be sqlite (the default) or postgres; got $(DB)" >&2; exit 2)
	$(if $(filter postgres,$(DB)),ZEROSHOP_POSTGRES_URL=$(POSTGRES_URL)) $(BIN)/zeroshop up

test: $(STAMP)
	$(BIN)/python -m pytest

# Chaos soak: a scratch platform (temporary folder, free ports) under browsing and ordering
# while random processes are killed or frozen, then every invariant checked; about
# DURATION + 30 s. `make chaos DB=postgres` runs it on fresh PostgreSQL databases.
DURATION ?= 120
chaos: $(STAMP)
	$(BIN)/zeroshop chaos --scratch --duration $(DURATION) \
		$(if $(filter postgres,$(DB)),--postgres $(POSTGRES_URL))

# Contract suites against real instances: all of them, or one service's with
# `make contract SERVICE=pricing`: its provider suite (the service alone on loopback), plus
# every consumer check that names it, as provider or as consumer (SERVICE=gateway: the
# gateway's). Test ids name consumer and provider, so -k picks both sides.
CONTRACT_SERVICES := gateway $(patsubst services/%/service.py,%,$(wildcard services/*/service.py))
CONSUMER_CHECKS := tests/contract/test_consumers.py tests/contract/test_events.py

contract: $(STAMP)
ifdef SERVICE
	@$(if $(filter $(SERVICE),$(CONTRACT_SERVICES)),true,\
		echo "make contract: no contract suite for SERVICE=$(SERVICE);" \
		"choose one of: $(CONTRACT_SERVICES)" >&2; exit 2)
	$(BIN)/python -m pytest $(wildcard tests/contract/test_$(SERVICE).py) $(CONSUMER_CHECKS) \
		-k "$(SERVICE)" -v
else
	$(BIN)/python -m pytest tests/contract -v
endif

# Contracts vs docs/contracts.snapshot.json: fails on a change that breaks a consumer (named),
# prints OK and warnings otherwise. After an intended change: contracts-snapshot, and commit.
contracts-check: $(STAMP)
	$(BIN)/python -m shared.contracttools.compat check

contracts-snapshot: $(STAMP)
	$(BIN)/python -m shared.contracttools.compat snapshot

# docs/CONTRACTS.md: every method and event, its schema and who reads what of it.
contracts-docs: $(STAMP)
	$(BIN)/python -m shared.contracttools.compat docs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Benchmarks, not tests (real processes on loopback). Each rewrites only its own section of
# docs/BENCHMARKS.md. `make bench`: all five, about thirteen minutes; `make bench-events`: the
# event bus only, about 1.5 minutes (its RabbitMQ row wants RabbitMQ on 127.0.0.1:5672 and
# pika, the `bench` extra; without them that row is skipped). Options:
# $(BIN)/python -m bench.fanout --help, $(BIN)/python -m bench.events --help
bench: $(STAMP)
	$(BIN)/python -m bench.fanout
	$(MAKE) --no-print-directory bench-events
	$(MAKE) --no-print-directory bench-s1
	$(MAKE) --no-print-directory bench-cold-start bench-memory

bench-events: $(STAMP)
	@$(BIN)/python -c 'import pika' 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet -e '.[dev,bench]' \
		|| echo "pika could not be installed: the RabbitMQ rows will be skipped" >&2
	$(BIN)/python -m bench.events

# S1: the product page over HTTP against the Flask + gunicorn peers of bench/peers/, about
# four minutes; it writes the s1 section and docs/bench-s1.png. The peers need gunicorn,
# requests and matplotlib, the `bench` extra.
bench-s1: $(STAMP)
	@$(BIN)/python -c 'import gunicorn, requests, matplotlib' 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.page_vs_peers

# S4 cold start and S5 memory, against the same pricing lookup under gunicorn (the bench
# extra): about five minutes and one minute. Options: $(BIN)/python -m bench.cold_start
# --help, $(BIN)/python -m bench.memory --help
bench-cold-start bench-memory: $(STAMP)
	@$(BIN)/python -c 'import gunicorn' 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.$(subst -,_,$(patsubst bench-%,%,$@))

# Load for users: Locust's shoppers (bench/locustfile.py) headless against URL, then
# Locust's summary. A platform started as usual has its rate limits on and the run meets
# them (429s): start it with ZEROSHOP_RATE_LIMIT=off to load the platform, not its limits.
# `make load URL=http://host:8080 USERS=50 DURATION=300` (seconds, the chaos default of 120
# when unset; Locust's 5m also works); Locust itself is in the bench extra.
URL ?= http://127.0.0.1:8080
USERS ?= 20
load: $(STAMP)
	@$(BIN)/python -c 'import importlib.util, sys; sys.exit(not importlib.util.find_spec("locust"))' \
		|| $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/locust -f bench/locustfile.py --headless --host $(URL) --users $(USERS) \
		--spawn-rate $(USERS) --run-time $(DURATION) \
		--only-summary

clean:
	rm -rf $(VENV) var
