# One entry point for everything a developer or CI does. Every target bootstraps what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The local tooling runs on Python 3.11, 3.12 or 3.13 (tools/find-python picks the newest; PYTHON=... to choose).
# Lambda runs python3.13; `make build` builds for it from any of them (layers/shared/Makefile: pip wheels
# for python3.13 and the template's architecture), so no python3.13 interpreter is needed.
VENV ?= .venv
BIN := $(VENV)/bin
# Two requirement sets in one virtualenv: deploy (requirements-deploy.txt: what make build, preflight,
# deploy, verify, switchover and delete need) and development (requirements-dev.txt, which includes it).
STAMP := $(VENV)/.installed
DEPLOY_STAMP := $(VENV)/.installed-deploy

CONFIG_ENV ?=
ENV_VARS ?=
SCENARIO ?=
FN ?=
EVENT ?=
FRESH ?=
REAL_AWS ?=
PLOT ?=
PEER ?=
MINUTES ?=
ENGINE ?=

# The variables a recipe passes on to a command must be names (or paths), never shell syntax: checked
# here, before any recipe runs, on their unexpanded text ($(value ...), so `$(shell ...)` in a value
# is refused, not run), and quoted again where the recipes use them.
comma := ,
NAME_CHARS := a b c d e f g h i j k l m n o p q r s t u v w x y z \
  A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9 - _ .
PATH_CHARS := $(NAME_CHARS) / + @ % = : $(comma)
without_chars = $(if $(2),$(call without_chars,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
refuse_unsafe = $(if $(or $(call without_chars,$(value $(1)),$(2)),$(word 2,$(value $(1)))),$(error \
  $(1)=$(value $(1)) cannot be a name: use letters$(comma) digits and $(3) only))
$(foreach name,CONFIG_ENV PEER SCENARIO FN MINUTES,$(call refuse_unsafe,$(name),$(NAME_CHARS),- _ .))
$(foreach name,EVENT ENV_VARS PLOT MEASURED,$(call refuse_unsafe,$(name),$(PATH_CHARS),- _ . / + @ % = : $(comma)))
# Free text and the values only the game-day and operator recipes read: make exports a command-line variable
# to every recipe's environment *expanded* (so `$(shell ...)` in it would run); these reach their tools only
# as GD_* (their unexpanded text, $(value ...)), so they are not exported as themselves.
unexport REASON CONFIRM EXPERIMENT TIMEOUT_MINUTES

# The drill's server engine (tools/localredis.py ENGINES): redis-server (TLS + AUTH) or valkey-server (AUTH).
ENGINES := redis valkey
$(if $(and $(value ENGINE),$(or $(filter-out $(ENGINES),$(value ENGINE)),$(word 2,$(value ENGINE)))),$(error \
  ENGINE=$(value ENGINE) is not an engine: use redis or valkey))

.PHONY: help venv deploy-venv redis-server test lint unit integration template-gates example-gates build drill drill-all bench docs rto invoke clean

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "%-16s%s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo; echo "drill scenarios (make drill SCENARIO=<name>):"
	@sed -n 's/^ *name="\([a-z0-9-]*\)",$$/  \1/p' tools/drill/scenarios.py  tools/drill/sharded_scenarios.py

# ENV used to mean a samconfig environment (rto) and an env-vars file (invoke), and a shell's own ENV
# (set by many shells to an rc file) leaked in. Named on the command line, it is refused with the new names.
refuse_old_env = @if [ "$(origin ENV)" = "command line" ]; then \
	  echo "make $@: ENV= is no longer read; use $(1)"; exit 2; fi

# Creates $(VENV) when it has no interpreter yet (an existing one keeps what it holds).
NEW_VENV = @test -x $(BIN)/python || { python="$$(bash tools/find-python)" || exit 2; \
	  echo "creating $(VENV) with Python $$("$$python" -c 'import platform; print(platform.python_version())') ($$python)"; \
	  "$$python" -c 'import ensurepip' 2>/dev/null || { \
	    echo "$$python cannot create a virtualenv: install its venv module (Debian/Ubuntu: apt-get install python3-venv)"; exit 2; }; \
	  "$$python" -m venv $(VENV) && $(BIN)/pip install --quiet --upgrade pip; }

$(STAMP): requirements-dev.txt requirements-deploy.txt constraints.txt layers/shared/requirements.txt
	$(NEW_VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@ $(DEPLOY_STAMP)

$(DEPLOY_STAMP): requirements-deploy.txt constraints.txt layers/shared/requirements.txt
	$(NEW_VENV)
	$(BIN)/pip install --quiet -r requirements-deploy.txt -c constraints.txt
	touch $@

venv: $(STAMP) ## create .venv with the pinned development dependencies (includes the deploy set)

deploy-venv: $(DEPLOY_STAMP) ## create .venv with the deploy dependencies only (no test stack)

redis-server: ## install redis-server from Debian packages when it is missing
	@command -v redis-server >/dev/null || { \
	  echo "redis-server missing: installing it from Debian packages"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq redis-server >/dev/null; }
	@redis-server --version

test: venv redis-server lint unit integration template-gates example-gates drill-all ## everything CI runs

lint: venv ## ruff, mypy and the IAM policy lint (tools/iam_lint.py)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# each handler is a top-level module named app: check them one at a time
	for handler in functions/*/app.py; do $(BIN)/mypy "$$handler" || exit 1; done
	$(BIN)/python -m tools.iam_lint

unit: venv ## fast tests, no servers
	$(BIN)/pytest tests/unit tests/template examples/client-python/tests -q

integration: venv redis-server ## tests against real redis-server and moto
	$(BIN)/pytest tests/integration -q

template-gates: venv ## sam validate --lint, cfn-lint, checkov, sam build
	BIN="$(BIN)" bash .ci/template-gates

example-gates: venv ## examples: cfn-lint + checkov on examples/datastore, kubernetes-validate on examples/kubernetes
	BIN="$(BIN)" bash .ci/example-gates

build: deploy-venv ## sam build for python3.13 (the Lambda runtime) from the Python you have (3.11-3.13)
	BUILD_PYTHON="$(abspath $(BIN)/python)" $(BIN)/sam build --template template.yaml

drill: venv redis-server ## local failover drill, no AWS account [SCENARIO=<name>] [ENGINE=redis|valkey] [PLOT=<file.png>]
	$(BIN)/python -m tools.drill $(if $(SCENARIO),--scenario "$(SCENARIO)") $(if $(ENGINE),--engine "$(ENGINE)") $(if $(PLOT),--plot "$(PLOT)")

drill-all: venv redis-server ## every drill scenario, as a table (a few of them on valkey-server too)
	$(BIN)/python -m tools.drill --all

bench: venv redis-server ## probe latency and cold import benchmark
	$(BIN)/python -m tools.bench

docs: venv ## rewrite the numbers the docs quote from template.yaml and make rto (tools/docsync.py)
	$(BIN)/python -m tools.docsync

rto: venv ## timing and cost model from template.yaml [CONFIG_ENV=<samconfig env>] [MEASURED=<calibrate/gameday report.json>]
	$(call refuse_old_env,CONFIG_ENV=<samconfig env>)
	$(BIN)/python -m tools.rto $(if $(CONFIG_ENV),--config-env "$(CONFIG_ENV)") $${GD_MEASURED:+--measured "$$GD_MEASURED"}

invoke: venv ## run a function from template.yaml in-process, AWS emulated: EVENT=events/<f>.json [FN=<LogicalId>] [ENV_VARS=<file>] [FRESH=1] [REAL_AWS=1]
	$(call refuse_old_env,ENV_VARS=<env-vars.json>)
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<file>.json [FN=<LogicalId>] [ENV_VARS=<env-vars.json>] [FRESH=1] [REAL_AWS=1]"; exit 2; }
	@$(BIN)/python -m tools.invoke $(if $(FN),"$(FN)") --event "$(EVENT)" --env-vars "$(or $(ENV_VARS),events/env-vars/local.json)" $(if $(FRESH),--fresh) $(if $(REAL_AWS),,--local)

# --- deploy a regional stack (docs/deploy.md) -------------------------------------------------------
.PHONY: preflight deploy deploy-pair verify switchover delete
CONFIG_ENV_USAGE = { echo "usage: make $@ CONFIG_ENV=<samconfig.toml environment, e.g. primary>"; exit 2; }
PEER_ARG = $(if $(PEER),--peer "$(PEER)")

preflight: deploy-venv ## is samconfig env ready? CONFIG_ENV=<env> [OFFLINE=1] [PEER=<env>]; exit 0 ok, 1 failed, 2 error
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.preflight --config-env "$(CONFIG_ENV)" $(PEER_ARG) $(if $(OFFLINE),--offline)

deploy: deploy-venv ## preflight, sam build, sam deploy with the peer's outputs: CONFIG_ENV=<env> [DRY_RUN=1] [SKIP_PEER=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.preflight --config-env "$(CONFIG_ENV)" $(PEER_ARG) --offline
	$(MAKE) --no-print-directory build
	$(BIN)/python -m tools.deploy --config-env "$(CONFIG_ENV)" $(PEER_ARG) $(if $(SKIP_PEER),--skip-peer) $(if $(DRY_RUN),--dry-run)

deploy-pair: deploy-venv ## first deploy of a pair in one go (env, peer, env again): CONFIG_ENV=<env> [DRY_RUN=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.preflight --config-env "$(CONFIG_ENV)" $(PEER_ARG) --offline
	$(MAKE) --no-print-directory build
	$(BIN)/python -m tools.deploy --config-env "$(CONFIG_ENV)" $(PEER_ARG) --pair $(if $(DRY_RUN),--dry-run)

verify: deploy-venv ## check a deployed pair, read-only: CONFIG_ENV=<env> [MINUTES=10] [PROMOTER_ALARM=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.verify --config-env "$(CONFIG_ENV)" $(PEER_ARG) $(if $(MINUTES),--minutes "$(MINUTES)") $(if $(PROMOTER_ALARM),--promoter-alarm)

switchover: deploy-venv ## planned switchover (failback) to a samconfig env's region: CONFIG_ENV=<target env> [DRY_RUN=1] [FORCE=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || { echo "usage: make $@ CONFIG_ENV=<the samconfig.toml environment that becomes the writer> [DRY_RUN=1] [FORCE=1]"; exit 2; }
	$(BIN)/python -m tools.switchover --config-env "$(CONFIG_ENV)" $(if $(DRY_RUN),--dry-run) $(if $(FORCE),--force)

delete: deploy-venv ## delete a regional stack (sam delete); the zone-owning PRIMARY goes last: CONFIG_ENV=<env> [DRY_RUN=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@test -n "$(CONFIG_ENV)" || $(CONFIG_ENV_USAGE)
	$(BIN)/python -m tools.delete --config-env "$(CONFIG_ENV)" $(if $(DRY_RUN),--dry-run)

# --- game day in your own account: AWS FIS experiments measured against make rto (docs/gameday.md) ---
.PHONY: gameday calibrate
EXPERIMENT ?=
CONFIRM ?=
TIMEOUT_MINUTES ?=
MEASURED ?=
# The values reach the tools through the environment, never through the shell's parser, and must be names.
gameday calibrate: export GD_CONFIG_ENV = $(value CONFIG_ENV)
gameday calibrate: export GD_PEER = $(value PEER)
gameday calibrate: export GD_MINUTES = $(value MINUTES)
gameday: export GD_EXPERIMENT = $(value EXPERIMENT)
gameday: export GD_CONFIRM = $(value CONFIRM)
gameday: export GD_TIMEOUT = $(value TIMEOUT_MINUTES)
rto: export GD_MEASURED = $(value MEASURED)
GAMEDAY_NAMES_CHECK = for pair in "CONFIG_ENV=$$GD_CONFIG_ENV" "PEER=$$GD_PEER" "EXPERIMENT=$$GD_EXPERIMENT" \
	  "CONFIRM=$$GD_CONFIRM" "TIMEOUT_MINUTES=$$GD_TIMEOUT" "MINUTES=$$GD_MINUTES"; do \
	  name="$${pair%%=*}"; value="$${pair\#*=}"; \
	  case "$$name:$$value" in *MINUTES:*[!0-9]*) echo "make $@: $$name must be a whole number of minutes"; exit 2;; \
	    CONFIRM:*[!A-Za-z0-9/_-]*) echo "make $@: CONFIRM=$$value is not <account>/<datastore>"; exit 2;; CONFIRM:*) ;; \
	    *:*[!A-Za-z0-9_.-]*) echo "make $@: $$name=$$value is not a name"; exit 2;; esac; done

gameday: venv ## break the writer's region on purpose (AWS FIS), follow and measure the chain: CONFIG_ENV=<env> EXPERIMENT=<name> [CONFIRM=<account>/<datastore>] [TIMEOUT_MINUTES=20]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@$(GAMEDAY_NAMES_CHECK)
	@test -n "$$GD_CONFIG_ENV" && test -n "$$GD_EXPERIMENT" || { echo "usage: make gameday CONFIG_ENV=<env> EXPERIMENT=<in-region-failover|writer-unreachable> [CONFIRM=<account>/<datastore>] [TIMEOUT_MINUTES=<n>] [PEER=<env>]"; exit 2; }
	@$(BIN)/python -m tools.gameday --config-env "$$GD_CONFIG_ENV" --experiment "$$GD_EXPERIMENT" $${GD_PEER:+--peer "$$GD_PEER"} $${GD_CONFIRM:+--confirm "$$GD_CONFIRM"} $${GD_TIMEOUT:+--timeout-minutes "$$GD_TIMEOUT"}

calibrate: venv ## measure, read-only, the delays make rto assumes (EMF, alarm evaluation, Route 53): CONFIG_ENV=<env> [MINUTES=5]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@$(GAMEDAY_NAMES_CHECK)
	@test -n "$$GD_CONFIG_ENV" || { echo "usage: make calibrate CONFIG_ENV=<env> [MINUTES=<n>] [PEER=<env>]"; exit 2; }
	@$(BIN)/python -m tools.calibrate --config-env "$$GD_CONFIG_ENV" $${GD_PEER:+--peer "$$GD_PEER"} $${GD_MINUTES:+--minutes "$$GD_MINUTES"}

# --- when the promoter refuses: a human's guarded promotion, and pausing automatic promotion (docs/runbook.md) ---
.PHONY: promote pause resume
REASON ?=
# As for the game day: the values reach the tools through the environment, never through the shell's parser.
# REASON is free text (spaces allowed): the tools check it (one printable line, at most 200 characters).
promote pause resume: export GD_CONFIG_ENV = $(value CONFIG_ENV)
promote pause: export GD_REASON = $(value REASON)
promote: export GD_CONFIRM = $(value CONFIRM)
pause: export GD_MINUTES = $(value MINUTES)
OPERATOR_INPUT_CHECK = test -n "$$GD_CONFIG_ENV" || { echo "usage: $(1)"; exit 2; }; \
	case "$$GD_MINUTES" in *[!0-9]*) echo "make $@: MINUTES=$$GD_MINUTES must be a whole number of minutes"; exit 2;; esac; \
	case "$$GD_CONFIRM" in *[!A-Za-z0-9:/_-]*) echo "make $@: CONFIRM=$$GD_CONFIRM is not <account>:<datastore>"; exit 2;; esac
PROMOTE_USAGE = make promote CONFIG_ENV=<env> CONFIRM=<account id>:<Global Datastore id> REASON=<why> [DRY_RUN=1]
PAUSE_USAGE = make pause CONFIG_ENV=<env> REASON=<why> [MINUTES=<1-10080, default 60>]

promote: venv ## a human promotes this region, guarded: CONFIG_ENV=<env> CONFIRM=<account>:<datastore> REASON=<why> [DRY_RUN=1]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@$(call OPERATOR_INPUT_CHECK,$(PROMOTE_USAGE))
	@test -n "$$GD_CONFIRM" && test -n "$$GD_REASON" || { echo "usage: $(PROMOTE_USAGE)"; exit 2; }
	@$(BIN)/python -m tools.promote --config-env "$$GD_CONFIG_ENV" --confirm "$$GD_CONFIRM" --reason "$$GD_REASON" $(if $(DRY_RUN),--dry-run)

pause: venv ## pause automatic promotion in an env's region, no redeploy: CONFIG_ENV=<env> REASON=<why> [MINUTES=60]
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@$(call OPERATOR_INPUT_CHECK,$(PAUSE_USAGE))
	@test -n "$$GD_REASON" || { echo "usage: $(PAUSE_USAGE)"; exit 2; }
	@$(BIN)/python -m tools.pause pause --config-env "$$GD_CONFIG_ENV" --reason "$$GD_REASON" $${GD_MINUTES:+--minutes "$$GD_MINUTES"}

resume: venv ## end a pause of automatic promotion: CONFIG_ENV=<env>
	$(call refuse_old_env,CONFIG_ENV=<env>)
	@$(call OPERATOR_INPUT_CHECK,make resume CONFIG_ENV=<env>)
	@$(BIN)/python -m tools.pause resume --config-env "$$GD_CONFIG_ENV"

clean: ## remove build output and the virtualenv
	rm -rf .aws-sam $(VENV) .mypy_cache .ruff_cache
