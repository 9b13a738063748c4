# Two commands for a fresh machine with Python 3.11 and the package registries:
#   make demo   creates .venv, installs orbitlink, runs the QPSK loopback demo
#   make test   sets up as needed and runs the test suite
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-ber bench setup system-deps clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,plot]'
	touch $(STAMP)

setup: $(STAMP)

# Optional OS packages (SoapySDR bindings for the radio drivers); needs root, skipped quietly otherwise.
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  python3 -c 'import SoapySDR' 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-soapysdr >/dev/null; } || true; \
	fi

demo: $(STAMP)
	$(VENV)/bin/orbitlink loopback --link qpsk --frames 50 --ebn0 10 --cfo 1500 --sro 50 --out out/demo --plot

test: $(STAMP)
	$(PY) -m pytest -q

test-ber: $(STAMP)
	$(PY) -m pytest -q -m ber

bench: $(STAMP)
	taskset -c 0 $(PY) benchmarks/bench_psk_rx.py

clean:
	rm -rf $(VENV) out build *.egg-info
