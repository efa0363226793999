# deeplinear — run `make help` for the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,sweep,dask,docs
RUST_SOURCES := $(shell find rust -name '*.rs' -o -name 'Cargo.toml') Cargo.toml pyproject.toml
BUILD_STAMP := $(VENV)/.deeplinear-built

.PHONY: help
help:  ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BUILD_STAMP): $(VENV)/bin/python $(RUST_SOURCES)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

.PHONY: build
build: $(BUILD_STAMP)  ## set up .venv and build the Rust extension in release mode

.PHONY: demo
demo: build  ## quick reproduction of Hu et al. 2020 (Gaussian vs orthogonal): report + figures
	$(VENV)/bin/deeplinear reproduce hu2020 --quick --out results/hu2020

.PHONY: reproduce
reproduce: build  ## every study at its quick size (a few minutes): results/all/report.md indexes the claims
	$(VENV)/bin/deeplinear reproduce all --quick --out results/all

.PHONY: gallery
gallery: build  ## rerun every quick preset and refresh the README gallery (docs/gallery/*.png)
	$(VENV)/bin/deeplinear reproduce all --quick --out results/all --gallery docs/gallery

.PHONY: test
test: build  ## cargo test for the core, then pytest (slow tests and benchmarks excluded)
	cargo test -p deeplinear-core --quiet
	$(PY) -m pytest -q

.PHONY: test-all
test-all: build  ## every test, including the slow full-size ones
	cargo test -p deeplinear-core --quiet
	$(PY) -m pytest -q -m ''

.PHONY: test-thorough
test-thorough: build  ## pytest with 1000 fresh random hypothesis examples per property (slow)
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -q

.PHONY: bench
bench: build  ## benchmarks: deeplinear vs the NumPy reference (and JAX if installed); GFLOP/s table
	$(PY) -m pytest benches -q -m benchmark --benchmark-only --benchmark-columns=min,median,rounds

.PHONY: docs
docs: build  ## the documentation site (mkdocs-material + mkdocstrings), strict, into site/
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

HOST_TRIPLE = $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')

.PHONY: wheel
wheel: $(VENV)/bin/python  ## dist/: a manylinux2014 abi3 wheel (maturin --zig, no container) and the sdist
	$(PY) -m pip install --quiet 'maturin>=1.9,<2' ziglang auditwheel
	rm -f dist/deeplinear-*
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/maturin build --release --zig \
		--compatibility manylinux2014 --target $(HOST_TRIPLE) --out dist
	$(VENV)/bin/maturin sdist --out dist
	$(VENV)/bin/auditwheel show dist/deeplinear-*.whl

.PHONY: test-wheel
test-wheel: build  ## install dist/'s wheel in a fresh venv without Rust on PATH; run the README quickstart
	DEEPLINEAR_WHEEL_DIR=dist $(PY) -m pytest -q -m slow tests/test_wheel.py

.PHONY: lint
lint: build  ## rustfmt --check, clippy -D warnings, ruff
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(PY) -m ruff check python tests benches
	$(PY) -m ruff format --check python tests benches
	$(PY) -m mypy --strict python/deeplinear

.PHONY: fmt
fmt: build  ## format Rust and Python sources
	cargo fmt --all
	$(PY) -m ruff format python tests benches
	$(PY) -m ruff check --fix python tests benches

.PHONY: clean
clean:  ## remove build outputs and the virtualenv
	rm -rf $(VENV) target results site dist .pytest_cache .benchmarks
