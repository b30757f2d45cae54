# cloison — two entry points for a fresh Debian 12 machine, as root:
#   make demo   the reference deployment (INGEAGGLO) end to end
#   make test   every test (lint, types, unit, golden, property, lab)
# Both install what they need: Debian packages from .ci/apt-packages.txt, the venv at .venv.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEPLOYMENT ?= inventory/ingeagglo
OUT ?= out

export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: all deps venv lint typecheck unit test demo image bench clean lab-down

all: test

deps:
	@missing=$$(grep -v -e '^#' -e '^$$' .ci/apt-packages.txt | while read -r p; do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'ok installed' || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml | deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: deps $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check segmenting ids tests bench

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m 'not lab' --junitxml=$(OUT)/junit-unit.xml

test: venv lint typecheck
	$(BIN)/pytest --junitxml=$(OUT)/junit.xml

demo: venv
	bash .ci/demo.sh $(DEPLOYMENT) $(OUT)

# Appliance images (docs/images.md): IMAGE_ROLE=edge-gateway|csu-services|dmz-relay|ids-sensor|all,
# signed with IMAGE_KEY (made on the first run, 0600; ship its allowed_signers, never the key).
IMAGE_ROLE ?= all
IMAGE_KEY ?= /var/lib/cloison/keys/image-signing_ed25519
image: venv
	@test -f $(IMAGE_KEY) || $(BIN)/cloison image keygen $(IMAGE_KEY)
	$(BIN)/cloison image build --role $(IMAGE_ROLE) -o $(OUT)/images --key $(IMAGE_KEY)

bench: venv
	$(BIN)/python bench/plan_scale.py

clean:
	rm -rf $(OUT) build *.egg-info
