# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
CONFIG  ?= configs/default.yaml
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: install run test test-fast eval bench lint clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	# Optional: the Ray engine and its tests (skipped, not failed, if Ray cannot be installed).
	$(PY) -m pip install --quiet -e '.[ray]' || echo "warning: ray not installed; Ray tests skip"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/taxonomy run --config $(CONFIG)

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser"

# Seeds against the hand labels (run `make run` first), then the 20 Newsgroups test split
# through the same defaults (its 7.4k embeddings are cached in .cache after the first time).
SHARED ?= ../shared
eval: install
	# Score a fresh run (warm: seconds), never whatever an older run left in outputs/.
	$(VENV)/bin/taxonomy run --quiet --config $(CONFIG)
	$(VENV)/bin/taxonomy eval --labels $(SHARED)/eval/seeds_dev_labels.jsonl --ignore-label other
	$(PY) -m taxonomy.evaluate.datasets 20ng --shared $(SHARED) --out .cache/eval
	$(VENV)/bin/taxonomy run --quiet --config configs/eval-20ng.yaml
	$(VENV)/bin/taxonomy eval --run outputs/eval-20ng --labels .cache/eval/20ng_test_labels.jsonl

bench: install
	$(PY) bench/run_all.py

lint: install
	$(VENV)/bin/ruff check taxonomy tests bench
	$(VENV)/bin/ruff format --check taxonomy tests bench

clean:
	rm -rf .cache outputs/*.html outputs/*.csv outputs/*.yaml outputs/*.json outputs/*.md
