# `make demo` and `make test` bootstrap everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
VENV_FLAGS ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYTHONUNBUFFERED := 1

.PHONY: venv demo test bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sim2real demo

test: $(STAMP)
	$(PY) -m pytest -q test

bench: $(STAMP)
	$(VENV)/bin/sim2real bench graph

clean:
	rm -rf $(VENV) runs
