# `make demo` and `make test` bootstrap everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
VENV_FLAGS ?=
# ROS_FROM_SYSTEM=1 (with VENV_FLAGS=--system-site-packages): a full ROS 2 install's rclpy and
# messages, not the ros-kilted-* wheels, which would shadow them
ROS_FROM_SYSTEM ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYTHONUNBUFFERED := 1

.PHONY: venv demo test bench clean browser

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
ifeq ($(ROS_FROM_SYSTEM),1)
	grep -v '^ros-kilted-' requirements.txt > $(VENV)/requirements-no-ros.txt
	$(PY) -m pip install --quiet -r $(VENV)/requirements-no-ros.txt
else
	$(PY) -m pip install --quiet -r requirements.txt
endif
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sim2real demo

test: $(STAMP) browser
	$(PY) -m pytest -q test

# The browser test (test/integration/test_view.py) needs Debian's chromium + chromium-driver:
# installed here when missing and we are root with apt-get; otherwise say why the test will skip.
# Never fails the build.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make: chromium/chromedriver missing and not installable here (needs root and apt-get):" \
	       "the browser test will skip; install them with: sudo apt-get install chromium chromium-driver"; \
	else \
	  echo "make: installing chromium and chromium-driver for the browser test (apt-get)"; \
	  log=$$(mktemp); \
	  if (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	        chromium chromium-driver) > $$log 2>&1; then rm -f $$log; \
	  else tail -n 5 $$log; echo "make: apt-get could not install chromium (log: $$log): the browser test will skip"; fi; \
	fi

bench: $(STAMP)
	$(VENV)/bin/sim2real bench graph

clean:
	rm -rf $(VENV) runs
