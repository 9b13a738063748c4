# Two commands for a fresh machine with Python 3.11 and the package registries:
#   make demo   creates .venv, installs orbitlink, runs the QPSK loopback demo
#   make test   sets up as needed and runs the test suite
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-ber bench setup system-deps soapy clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,plot]'
	touch $(STAMP)

setup: $(STAMP) soapy

# OS packages for the SoapySDR driver and its tests: the Python binding, the headers and g++
# for the test-only device module, SoapySDRUtil; and Debian's chromium, the real browser the
# view's test drives through playwright (never a browser download). Installed with apt when root (quietly, without
# the recommended hardware modules); otherwise skipped with a note, and the SoapySDR tests say
# why they cannot run.
SOAPY_DEBS := python3-soapysdr libsoapysdr-dev soapysdr-tools g++ chromium
APT := apt-get -o DPkg::Lock::Timeout=900
system-deps:
	@if dpkg -s $(SOAPY_DEBS) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "$(APT) install $(SOAPY_DEBS)"; \
	  { $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq \
	      --no-install-recommends $(SOAPY_DEBS) >/dev/null; } \
	  || echo "make: apt-get could not install $(SOAPY_DEBS); the SoapySDR and browser tests will be skipped"; \
	else echo "make: not root or no apt-get, so $(SOAPY_DEBS) were not installed; the SoapySDR and browser tests will be skipped"; \
	fi

# The Debian binding (python3-soapysdr) made visible in the venv without
# --system-site-packages: a folder of symlinks to its two files and a .pth naming it
# (LIVE-STATION.md B.4); then the test-only device module (build/soapy/libOrbitFake.so).
SOAPY_SHIM := $(abspath $(VENV))/soapysdr-binding
soapy: system-deps $(STAMP)
	@ext=$$($(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))'); \
	site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	src=/usr/lib/python3/dist-packages; \
	if $(PY) -c 'import SoapySDR' 2>/dev/null; then :; \
	elif [ -f $$src/SoapySDR.py ] && [ -f $$src/_SoapySDR$$ext ]; then \
	  mkdir -p $(SOAPY_SHIM) && ln -sf $$src/SoapySDR.py $$src/_SoapySDR$$ext $(SOAPY_SHIM)/ \
	  && echo $(SOAPY_SHIM) > $$site/system-soapysdr.pth && echo "SoapySDR binding linked into $(VENV)"; \
	else echo "make: no SoapySDR binding for $$ext in $$src (python3-soapysdr is for Debian's CPython 3.11); the SoapySDR tests will be skipped"; \
	fi
	@$(PY) -m orbitlink.tests.soapy_fake

demo: $(STAMP)
	$(VENV)/bin/orbitlink loopback --link qpsk --frames 50 --ebn0 10 --cfo 1500 --sro 50 --out out/demo --plot

test: setup
	$(PY) -m pytest -q

test-ber: $(STAMP)
	$(PY) -m pytest -q -m ber

bench: $(STAMP)
	taskset -c 0 $(PY) benchmarks/bench_psk_rx.py

clean:
	rm -rf $(VENV) out build *.egg-info
