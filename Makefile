# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv (python3 -m venv + pip install -e '.[dev]') when it is missing or stale.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin
DEMO_OUT ?= demo

.PHONY: demo test test-slow reliability-doc lint bench bench-transfer bench-accuracy fashion-mnist clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/infomin demo --out $(DEMO_OUT) --overwrite

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The slow checks, and the fuzzers with a larger example budget than make test's.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow
	INFOMIN_FUZZ_EXAMPLES=500 $(BIN)/python -m pytest -q tests/cli/test_fuzz_inputs.py

# docs/reliability.md is the table the fault and bad-input tests record (slow ones included).
reliability-doc: $(STAMP)
	INFOMIN_RELIABILITY_REPORT=docs/reliability.md $(BIN)/python -m pytest -q -m 'slow or not slow' \
		tests/cli/test_bad_inputs.py tests/methods/test_faults.py tests/test_run_folder.py

# BENCHMARKS.md from bench/results/*.json (about 6 minutes on 2 CPU cores, plus the whole
# epochs of bench.epoch at 1 and 2 torch threads, 15-20 more each, and the before/after
# accuracy check, about 20; step first:
# the data benchmark reads the step's consumption rate). `python -m bench.NAME --help`.
bench: $(STAMP)
	$(BIN)/python -m bench.step
	$(BIN)/python -m bench.data
	$(BIN)/python -m bench.probe
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.gpu
	$(BIN)/python -m bench.epoch
	$(BIN)/python -m bench.epoch --threads 2
	$(BIN)/python -m bench.epoch_accuracy
	$(BIN)/python -m bench.render

# The transfer comparison (README "Transfer at small scale"): 3 seeds, two processes of one
# thread each, 74 minutes on 2 CPU cores (measured), so not in `make bench` or CI (needs
# dataset-fashion-mnist).
# `python -m bench.transfer --quick` checks the pipeline in under 10 minutes.
bench-transfer: $(STAMP)
	$(BIN)/python -m bench.transfer --jobs 2

# The Fashion-MNIST accuracy table (issue 11; README): every preset against raw pixels,
# random init, supervised and lightly's SimCLR, 39 minutes on 2 CPU cores (measured), so
# not in `make bench` or CI. Needs `make fashion-mnist`; `python -m bench.accuracy --quick`
# checks the pipeline in under 10 minutes.
bench-accuracy: $(STAMP)
	$(BIN)/python -m bench.accuracy

# Fashion-MNIST's four IDX files from Debian's package dataset-fashion-mnist, where
# `infomin --data fashion-mnist` reads them without --data-dir. Installs as root with
# apt-get; otherwise prints the one command to run (and fails). Tests never need it.
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist
fashion-mnist:
	@if [ -d $(FASHION_MNIST_DIR) ]; then \
		echo "fashion-mnist is installed in $(FASHION_MNIST_DIR)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y dataset-fashion-mnist || \
			{ apt-get update && apt-get install -y dataset-fashion-mnist; }; \
	elif command -v apt-get >/dev/null; then \
		echo "run: sudo apt-get install dataset-fashion-mnist"; exit 1; \
	else \
		echo "no apt-get here: put the four *-ubyte.gz files of" \
			"https://github.com/zalandoresearch/fashion-mnist in a folder and pass --data-dir"; \
		exit 1; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DEMO_OUT)
