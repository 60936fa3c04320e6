# eatnas: `make run` (set-up + main job on the embedded default) and `make test` (set-up + tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.eatnas-installed
FMNIST := /usr/share/datasets/fashion-mnist
CORES ?= all
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=

.PHONY: run test setup data lint bench clean-results

setup: $(STAMP) data

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q -e '.[workflow,dev,export]'
	@touch $(STAMP)

# Fashion-MNIST ships as a Debian package; install it where apt exists and we are root,
# otherwise the loader falls back to a configured root or torchvision's download.
data:
	@if [ ! -d $(FMNIST) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing dataset-fashion-mnist (apt)"; \
	  (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null)) ; \
	fi

run: setup
	$(VENV)/bin/snakemake -s workflow/Snakefile --configfile $(CONFIG) --cores $(CORES) --rerun-incomplete

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: setup
	$(VENV)/bin/snakemake -s workflow/Snakefile --configfile $(CONFIG) --lint

clean-results:
	rm -rf results
