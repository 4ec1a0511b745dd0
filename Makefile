# API Patterns: every target sets up .venv on first use (Python 3.11+ as $(PYTHON)).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DISABLE_MKDOCS_2_WARNING := true
export NO_MKDOCS_2_WARNING := 1
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js

.DEFAULT_GOAL := help
.PHONY: help install serve serve-zensical build build-zensical check test prove update-examples new-pattern bench lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed; set PYTHON=python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# axe-core for the browser tests' contrast checks, pinned by its lockfile; no network after this.
$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	mkdir -p $(VENV)/axe && cp tests/browser/axe/package.json tests/browser/axe/package-lock.json $(VENV)/axe/
	cd $(VENV)/axe && npm ci --silent --no-audit --no-fund
	touch $@

install: $(STAMP) $(AXE) ## Create .venv and install the pinned dependencies (axe-core with npm)

serve: $(STAMP) ## Serve the site on http://127.0.0.1:8000/api-patterns/ with live reload (data/, snippets/ too)
	@$(BIN)/apipatterns check
	$(BIN)/mkdocs serve --strict --dirty --dev-addr 127.0.0.1:8000 --livereload

build: $(STAMP) ## Build the static site into site/ (strict mode)
	@$(BIN)/apipatterns check
	$(BIN)/mkdocs build --strict

build-zensical: $(STAMP) ## Build the same site with Zensical into site-zensical/ (strict)
	$(BIN)/apipatterns stage .zensical
	$(BIN)/zensical build --strict -f .zensical/mkdocs.yml
	$(BIN)/apipatterns feeds .zensical/site
	rm -rf site-zensical && cp -r .zensical/site site-zensical

serve-zensical: $(STAMP) ## Serve the Zensical build on http://127.0.0.1:8001/api-patterns/, re-staged on save
	$(BIN)/apipatterns stage .zensical
	$(BIN)/apipatterns stage .zensical --watch & trap 'kill $$!' EXIT; \
		$(BIN)/zensical serve -f .zensical/mkdocs.yml -a 127.0.0.1:8001

check: $(STAMP) ## Validate the catalog only: one line per problem
	@$(BIN)/apipatterns check

test: $(STAMP) $(AXE) ## Run every test: catalog, snippets, behaviour, built site, browser
	$(BIN)/pytest

prove: $(STAMP) ## Check every rule's proof fails on its breaking edit: make prove [P="pattern-id …"]
	$(BIN)/apipatterns prove $(P)

update-examples: $(STAMP) ## Rewrite the #> output lines of every snippet from a real run
	$(BIN)/pytest tests/test_examples.py --update-examples

new-pattern: $(STAMP) ## Scaffold a pattern: make new-pattern ID=my-pattern [TITLE="My pattern"]
	@test -n "$(ID)" || { echo "usage: make new-pattern ID=my-pattern"; exit 2; }
	$(BIN)/apipatterns new pattern $(ID) $(if $(TITLE),--title "$(TITLE)")

bench: $(STAMP) ## Measure build, catalog, rebuild, test and page-weight figures into bench.json
	@test -x $(VENV)/lighthouse/node_modules/.bin/lighthouse || { mkdir -p $(VENV)/lighthouse && \
		cd $(VENV)/lighthouse && npm install --silent --no-audit --no-fund lighthouse@13.5.0; }
	$(BIN)/python -m apipatterns.bench

lock: $(STAMP) ## Re-pin requirements.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 -o requirements.lock

clean: ## Remove the built site and caches (keeps .venv)
	rm -rf site site-zensical .zensical .pytest_cache .hypothesis bench.json
