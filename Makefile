# Common commands. `make demo` and `make test` each install what they need first (scripts/setup.sh).
.PHONY: setup demo test bench lint typecheck catalog sandbox-start sandbox-stop sandbox-status

PY := .venv/bin/python

setup:
	scripts/setup.sh

demo:
	scripts/demo.sh

test:
	scripts/test.sh

# every benchmark (about an hour), then bench/results/summary.md; BENCH=parse,alert_chain runs only those
bench: setup
	$(PY) bench/run_all.py $(if $(BENCH),--only $(BENCH))

lint: setup
	.venv/bin/ruff check .

typecheck: setup
	.venv/bin/mypy

catalog: setup
	PYTHONPATH=plugins $(PY) -m novacron_runbooks.catalog

sandbox-start: setup
	$(PY) -m sandbox start

sandbox-stop:
	$(PY) -m sandbox stop

sandbox-status:
	$(PY) -m sandbox status
