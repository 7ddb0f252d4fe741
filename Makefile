# The two set-up commands of the README: `make run` and `make test`.
# Both build .venv from pyproject.toml, pinned by constraints.txt.

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 5000
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run install install-dev install-bench browser axe mosquitto mqtt test test-postgres lint format migrate demo screenshot benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Build the database through the migrations, then serve on http://$(HOST):$(PORT)
run: install migrate
	$(BIN)/flask users ensure-admin
	$(BIN)/flask run --host $(HOST) --port $(PORT)

migrate: install
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask plants demo

## Debian's Chromium for the real-browser tests (Playwright's own download cannot
## reach its host here). Installs it when missing and we are root; else says how.
browser:
	@if [ -n "$$VPP_CHROMIUM" ] || command -v chromium >/dev/null 2>&1; then \
		echo "chromium: $${VPP_CHROMIUM:-$$(command -v chromium)}"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		command -v chromium; \
	else \
		echo "Chromium is missing: run 'sudo apt-get install chromium' or set VPP_CHROMIUM." >&2; \
		exit 1; \
	fi

## Debian's Mosquitto, the MQTT broker of the telemetry tests (each starts its own on a
## free loopback port). Installs it when missing and we are root; else says how.
mosquitto:
	@echo "mosquitto: $$(bash scripts/mqtt-broker.sh)"

## A broker on 127.0.0.1:1883 for a demo (flask telemetry listen, flask devices simulate).
mqtt: mosquitto
	mkdir -p build
	(cat scripts/mosquitto.conf; echo "listener 1883 127.0.0.1") > build/mosquitto.conf
	$$(bash scripts/mqtt-broker.sh) -c build/mosquitto.conf

## axe-core, pinned, for the accessibility checks of the browser tests (npm registry).
AXE_VERSION := 4.14.1
AXE := build/axe/axe-core-$(AXE_VERSION)/axe.min.js
axe: $(AXE)
$(AXE):
	rm -rf build/axe/tmp && mkdir -p build/axe/tmp
	cd build/axe/tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-$(AXE_VERSION).tgz
	rm -rf build/axe/axe-core-$(AXE_VERSION) && mv build/axe/tmp/package build/axe/axe-core-$(AXE_VERSION) && rm -rf build/axe/tmp

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## The whole suite: lint, unit, API, CLI, migrations and real-browser tests.
test: install-dev browser axe mosquitto lint
	$(BIN)/pytest

## The same suite on PostgreSQL: Debian's server, installed and started when missing
## (as root) by scripts/postgres-test-server.sh, or any VPP_TEST_DATABASE_URL given.
test-postgres: install-dev browser axe mosquitto
	VPP_TEST_DATABASE_URL=$${VPP_TEST_DATABASE_URL:-$$(bash scripts/postgres-test-server.sh)} $(BIN)/pytest

## Retake docs/dashboard.png (the README's screenshot) from a demo fleet.
screenshot: install-dev browser
	VPP_SCREENSHOT=docs/dashboard.png $(BIN)/pytest tests/test_browser.py -k screenshot -q

## Dispatch speed against the textbook MILP, the API against the prototype's greedy,
## and every door at 9 to 100,000 plants (browser, API, batch, CSV import).
install-bench: install-dev
	$(PIP_INSTALL) -e '.[dev,bench]'

benchmark: install-bench browser
	$(BIN)/python -m benchmarks.dispatch_bench
	$(BIN)/python -m benchmarks.api_bench
	$(BIN)/python -m benchmarks.scale_bench
	$(BIN)/python -m benchmarks.schedule_bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
