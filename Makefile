# Tongxin's front door. Every target sets itself up first (scripts/bootstrap.sh: a local
# .venv from requirements.lock; fast when nothing changed).
#   make run            the embedded default on http://127.0.0.1:8000 (ARGS=--no-demo to skip the demo)
#   make test           every test
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help bootstrap tools run test lint fmt contracts generate bench chaos fuzz clean

help:
	@echo "make run        start the embedded default (nats-server, services, gateway, demo city)"
	@echo "make test       run every test"
	@echo "make lint       ruff check, ruff format --check, mypy"
	@echo "make fmt        format and fix what ruff can"
	@echo "make contracts  regenerate contracts/schemas, gateway/schema.graphql and make generate"
	@echo "make generate   regenerate the NATS authorization, docker-compose.yml and Helm values"
	@echo "                from contracts/platform.json and the ownership map"
	@echo "make bench      benchmarks against the raw building blocks (results: bench-results/)"
	@echo "make chaos      kill processes at random under load; check nothing acknowledged is lost"
	@echo "make fuzz       1,000 generated requests per service API (schemathesis), fresh cases each run"
	@echo "make clean      remove .venv, .tongxin, .tools and node_modules"

bootstrap:
	@scripts/bootstrap.sh

# helm (pinned, sha256-checked) and checkov (its own venv) for the deploy checks, in .tools/.
tools: bootstrap
	@scripts/tools.sh

run: bootstrap
	$(BIN)/tongxin run $(ARGS)

test: bootstrap tools
	$(BIN)/pytest -q --durations=25 $(ARGS)

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services contracts gateway tongxin departments

fmt: bootstrap
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

contracts: bootstrap generate
	$(BIN)/python -m contracts.generate
	$(BIN)/python -m gateway.sdl > gateway/schema.graphql.tmp
	mv gateway/schema.graphql.tmp gateway/schema.graphql

# Everything derived from the platform manifest (contracts/platform.json); tests fail on drift.
generate: bootstrap
	$(BIN)/tongxin nats-auth --write
	$(BIN)/python -m tongxin.deploygen

bench: bootstrap
	$(BIN)/python -m tests.bench $(ARGS)

chaos: bootstrap
	$(BIN)/python -m tests.chaos $(ARGS)

fuzz: bootstrap
	TONGXIN_FUZZ_CASES=$${TONGXIN_FUZZ_CASES:-1000} $(BIN)/pytest -q tests/fuzz $(ARGS)

clean:
	rm -rf $(VENV) .tongxin .tools node_modules
