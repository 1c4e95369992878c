# One entry point for everything a developer or CI does. Every target bootstraps what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The local tooling runs on Python 3.11, 3.12 or 3.13 (tools/find-python picks the newest; PYTHON=... to choose).
# Lambda runs python3.13: `make build` and the template gates need exactly that one.
PYTHON313 = $(shell bash tools/find-python 3.13)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CONFIG_ENV ?=
ENV_VARS ?=
SCENARIO ?=
FN ?=
EVENT ?=
FRESH ?=
REAL_AWS ?=
PLOT ?=

.PHONY: help venv redis-server test lint unit integration template-gates example-gates build drill drill-all bench rto invoke clean

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "%-16s%s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo; echo "drill scenarios (make drill SCENARIO=<name>):"
	@sed -n 's/^ *name="\([a-z0-9-]*\)",$$/  \1/p' tools/drill/scenarios.py  tools/drill/sharded_scenarios.py

# ENV used to mean a samconfig environment (rto) and an env-vars file (invoke), and a shell's own ENV
# (set by many shells to an rc file) leaked in. Named on the command line, it is refused with the new names.
refuse_old_env = @if [ "$(origin ENV)" = "command line" ]; then \
	  echo "make $@: ENV= is no longer read; use $(1)"; exit 2; fi

$(STAMP): requirements-dev.txt constraints.txt layers/shared/requirements.txt
	@python="$$(bash tools/find-python)" || exit 2; \
	  echo "creating $(VENV) with Python $$("$$python" -c 'import platform; print(platform.python_version())') ($$python)"; \
	  "$$python" -c 'import ensurepip' 2>/dev/null || { \
	    echo "$$python cannot create a virtualenv: install its venv module (Debian/Ubuntu: apt-get install python3-venv)"; exit 2; }; \
	  "$$python" -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(STAMP) ## create .venv with the pinned dependencies

redis-server: ## install redis-server from Debian packages when it is missing
	@command -v redis-server >/dev/null || { \
	  echo "redis-server missing: installing it from Debian packages"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }
	@redis-server --version

test: venv redis-server lint unit integration template-gates example-gates drill-all ## everything CI runs

lint: venv ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# each handler is a top-level module named app: check them one at a time
	for handler in functions/*/app.py; do $(BIN)/mypy "$$handler" || exit 1; done

unit: venv ## fast tests, no servers
	$(BIN)/pytest tests/unit tests/template -q

integration: venv redis-server ## tests against real redis-server and moto
	$(BIN)/pytest tests/integration -q

template-gates: venv ## sam validate --lint, cfn-lint, checkov, sam build
	PYTHON313="$(PYTHON313)" BIN="$(BIN)" bash .ci/template-gates

example-gates: venv ## examples: cfn-lint + checkov on examples/datastore, kubernetes-validate on examples/kubernetes
	BIN="$(BIN)" bash .ci/example-gates

build: venv ## sam build with python3.13 (the Lambda runtime)
	@test -n "$(PYTHON313)" || { echo "make build needs Python 3.13, the Lambda runtime (found none via pyenv or PATH): install it (pyenv install 3.13, or your distribution's python3.13) and run make build again"; exit 2; }
	PATH="$(dir $(PYTHON313)):$$PATH" $(BIN)/sam build --template template.yaml

drill: venv redis-server ## local failover drill, no AWS account [SCENARIO=<name>] [PLOT=<file.png>]
	$(BIN)/python -m tools.drill $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(PLOT),--plot $(PLOT))

drill-all: venv redis-server ## every drill scenario, as a table
	$(BIN)/python -m tools.drill --all

bench: venv redis-server ## probe latency and cold import benchmark
	$(BIN)/python -m tools.bench

rto: venv ## timing and cost model from template.yaml [CONFIG_ENV=<samconfig env>]
	$(call refuse_old_env,CONFIG_ENV=<samconfig env>)
	$(BIN)/python -m tools.rto $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV))

invoke: venv ## run a function from template.yaml in-process, AWS emulated: EVENT=events/<f>.json [FN=<LogicalId>] [ENV_VARS=<file>] [FRESH=1] [REAL_AWS=1]
	$(call refuse_old_env,ENV_VARS=<env-vars.json>)
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<file>.json [FN=<LogicalId>] [ENV_VARS=<env-vars.json>] [FRESH=1] [REAL_AWS=1]"; exit 2; }
	@$(BIN)/python -m tools.invoke $(FN) --event "$(EVENT)" --env-vars "$(or $(ENV_VARS),events/env-vars/local.json)" $(if $(FRESH),--fresh) $(if $(REAL_AWS),,--local)

# --- deploy a regional stack (docs/deploy.md) -------------------------------------------------------
.PHONY: preflight deploy deploy-pair verify
CONFIG_ENV_USAGE = { echo "usage: make $@ CONFIG_ENV=<samconfig.toml environment, e.g. primary>"; exit 2; }
PEER_ARG = $(if $(PEER),--peer $(PEER))

preflight: venv ## is samconfig env ready? CONFIG_ENV=<env> [OFFLINE=1] [PEER=<env>]; exit 0 ok, 1 failed, 2 error
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.preflight --config-env $(CONFIG_ENV) $(PEER_ARG) $(if $(OFFLINE),--offline)

deploy: venv ## preflight, sam build, sam deploy with the peer's outputs: CONFIG_ENV=<env> [DRY_RUN=1] [SKIP_PEER=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.preflight --config-env $(CONFIG_ENV) $(PEER_ARG) --offline
	$(if $(DRY_RUN),,$(MAKE) --no-print-directory build)
	$(BIN)/python -m tools.deploy --config-env $(CONFIG_ENV) $(PEER_ARG) $(if $(SKIP_PEER),--skip-peer) $(if $(DRY_RUN),--dry-run)

deploy-pair: venv ## first deploy of a pair in one go (env, peer, env again): CONFIG_ENV=<env> [DRY_RUN=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.preflight --config-env $(CONFIG_ENV) $(PEER_ARG) --offline
	$(if $(DRY_RUN),,$(MAKE) --no-print-directory build)
	$(BIN)/python -m tools.deploy --config-env $(CONFIG_ENV) $(PEER_ARG) --pair $(if $(DRY_RUN),--dry-run)

verify: venv ## check a deployed pair, read-only: CONFIG_ENV=<env> [MINUTES=10] [PROMOTER_ALARM=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.verify --config-env $(CONFIG_ENV) $(PEER_ARG) $(if $(MINUTES),--minutes $(MINUTES)) $(if $(PROMOTER_ALARM),--promoter-alarm)

clean: ## remove build output and the virtualenv
	rm -rf .aws-sam $(VENV) .mypy_cache .ruff_cache
