# Two commands for a new user: `make run` and `make test`. Both install what they need
# into .venv first, and skip what is already installed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0

.PHONY: run test install bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.torch: | $(PY)
	$(PIP) install --quiet $(TORCH)
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e '.[local,test,bench]' $(TORCH)
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/tailored demo

test: install
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) tailored-data .pytest_cache
