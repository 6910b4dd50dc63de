# The suite's two commands. Both need Odoo 18.0 importable by python3 and a
# PostgreSQL server reachable through libpq's PG* variables.

PYTHON ?= python3
export PYTHON

.PHONY: demo test bench lint requirements

requirements:
	@tools/check_prerequisites.sh
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt

## Fresh database, the suite, the emulators and the firm's whole cycle.
demo: requirements
	@tools/demo.sh

## Throwaway database, every test, the linters; non-zero on any failure.
test: requirements
	@tools/run_tests.sh

## Speed figures as ratios against baselines measured in the same run.
bench: requirements
	@tools/bench.sh

lint:
	@tools/lint.sh
