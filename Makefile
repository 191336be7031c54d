# ZeroShop: `make run` starts the platform, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test chaos contract contracts-check contracts-snapshot contracts-docs lint bench clean
.PHONY: load

# pip is quiet, so say what takes the time (a newcomer would think `make run` hung).
# compileall: an editable install compiles nothing, and where PYTHONDONTWRITEBYTECODE is
# set nothing is ever cached, so every service start would compile the project again.
# PYTHONWARNINGS: setuptools warns on every editable install (a folder named like the
# package sits beside it), pages of noise on a first screen; pip's errors still show.
$(STAMP): pyproject.toml
	@echo "installing ZeroShop into $(VENV) (about 30-60 s on first run) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(BIN)/python -m compileall -q shared services gateway > /dev/null
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

# Benchmarks, not tests: the scenarios S0-S5 of docs/BENCHMARKS.md, each one module of
# bench/ against its baseline in the same run (real processes on loopback), each rewriting
# only its own section of docs/BENCHMARKS.md and its plot docs/bench-sN.png. `make bench`
# runs them all in order, about 12 minutes, saying which one runs; `make bench-s3` runs one.
# They need the `bench` extra (pika for RabbitMQ, zeroapi, matplotlib, py-spy), installed
# on first use. S3's baseline wants RabbitMQ on 127.0.0.1:5672 (guest/guest).
# Options: $(BIN)/python -m bench.s0_rpc --help (and so on).
BENCH_STAMP := $(VENV)/.bench-installed
BENCHES := s0 s1 s2 s3 s4 s5
$(BENCH_STAMP): pyproject.toml $(STAMP)
	@echo "installing the bench extra into $(VENV) ..."
	@PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@n=0; for b in $(BENCHES); do n=$$((n + 1)); \
		echo "== make bench: $$b ($$n of 6) =="; \
		$(MAKE) --no-print-directory bench-$$b || exit $$?; done
	@echo "== make bench: done; docs/BENCHMARKS.md and docs/bench-s*.png rewritten =="

.PHONY: $(addprefix bench-,$(BENCHES))
bench-s0: $(BENCH_STAMP)
	$(BIN)/python -m bench.s0_rpc
bench-s1: $(BENCH_STAMP)
	$(BIN)/python -m bench.s1_page
	$(BIN)/python -m bench.s1_page.servers
bench-s2: $(BENCH_STAMP)
	$(BIN)/python -m bench.s2_stragglers
bench-s3: $(BENCH_STAMP)
	$(BIN)/python -m bench.s3_events
bench-s4: $(BENCH_STAMP)
	$(BIN)/python -m bench.s4_cold_start
bench-s5: $(BENCH_STAMP)
	$(BIN)/python -m bench.s5_memory

# Load for users: Locust's shoppers (bench/locustfile.py) headless against URL, then
# Locust's summary. A platform started as usual has its rate limits on and the run meets
# them (429s): start it with ZEROSHOP_RATE_LIMIT=off to load the platform, not its limits.
# `make load URL=http://host:8080 USERS=50 DURATION=300` (seconds, the chaos default of 120
# when unset; Locust's 5m also works); Locust is in the dev extra, with the tests.
URL ?= http://127.0.0.1:8080
USERS ?= 20
load: $(STAMP)
	$(BIN)/locust -f bench/locustfile.py --headless --host $(URL) --users $(USERS) \
		--spawn-rate $(USERS) --run-time $(DURATION) \
		--only-summary

clean:
	rm -rf $(VENV) var
