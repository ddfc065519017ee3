# mirnet: `make demo` and `make test` set up everything on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORPUS := data/corpus
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint docs reference cross-engine clean-runs

$(STAMP): pyproject.toml
	scripts/install_build_tools.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# resemblyzer pulls in webrtcvad, whose module needs pkg_resources; webrtcvad-wheels writes the
	# same file without that import, so it must be the last one written whatever order pip chose
	$(BIN)/pip install -q --force-reinstall --no-deps webrtcvad-wheels==2.0.14.post1
	touch $@

setup: $(STAMP)
	scripts/install_synthesizers.sh all
	scripts/install_recorded.sh

test: lint docs
	scripts/install_synthesizers.sh test
	scripts/install_recorded.sh
	scripts/install_browser.sh
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# the documentation site (mkdocs.yml, docs/): every page in the nav, every link and anchor resolving;
# offline, into the ignored site/
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

demo: setup
	scripts/demo.sh

reference: setup
	scripts/train_reference.sh

# the reference recipe and the separate-then-embed pair without one family of voices, each scored
# on that family and on the other unseen voices (docs/lab/experiments.md)
cross-engine: setup
	scripts/train_cross_engine.sh
