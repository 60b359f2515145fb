# The two commands: `make run` serves the chat, `make test` runs the whole suite. Both set up what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8050
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
ESLINT := node_modules/.bin/eslint
JS     := eslint.config.mjs hybrid/_dash/page/assets hybrid/_dash/chat/assets tests/js

.PHONY: run test test-fast lint docs chromium redis postgres bench bench-full bench-store soak screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# ESLint for the page's scripts, pinned in package-lock.json; reinstalled when the lock changes.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m hybrid

# Debian's Chromium for the browser tests (Playwright), and its driver for the `dash_hybrid` fixture
# of `hybrid.testing` (Selenium, as dash_duo drives it).
chromium:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium chromium-driver; }

# The tests start their own redis-server on a loopback port (tests/support/redis_fixture.py); `make run`
# needs none.
redis:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }

# Debian's Postgres server: the tests start their own from `initdb` in a temporary folder, on a loopback
# port, as the `postgres` user when run as root (hybrid/dev/postgres.py); `make run` needs none.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq postgresql; }

test: $(VENV)/.installed-test node_modules/.installed chromium redis postgres
	$(BIN)/ruff check hybrid tests benchmarks examples
	$(ESLINT) $(JS)
	node --test tests/js/
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet --site-dir $$(mktemp -d)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The in-process layer alone (`unit`: no server, no browser): under a minute.
test-fast: $(VENV)/.installed-test node_modules/.installed
	node --test tests/js/
	$(BIN)/python -m pytest -m unit -q $(PYTEST_ARGS)

# The soak tests at full scale: 1,000 concurrent streams per round, 10 % of them aborted at random; and
# 300 resumable answers per round, dropped and resumed at random, through Redis.
soak: $(VENV)/.installed-test redis
	HYBRID_SOAK_STREAMS=1000 HYBRID_SOAK_RESUMES=300 $(BIN)/python -m pytest -m soak -q -p no:cacheprovider

lint: $(VENV)/.installed-test node_modules/.installed
	$(BIN)/ruff check hybrid tests benchmarks examples
	$(BIN)/ruff format --check hybrid tests benchmarks examples
	$(ESLINT) $(JS)

# The documentation site (MkDocs Material), built strictly: a broken link or reference fails it.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

screenshots: $(VENV)/.installed-test chromium
	$(BIN)/python scripts/screenshots.py

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.installed

# Benchmarks pin servers to core 0 and the load generator to core 1 (needs 2 cores and taskset); the page
# load (S10) drives Chromium through Playwright, from the test extra. They exit non-zero, naming each
# failure, when any contender lost, refused or cut a stream.
bench: $(VENV)/.installed-bench $(VENV)/.installed-test chromium
	taskset -c 1 $(BIN)/python -m benchmarks.run

bench-full: $(VENV)/.installed-bench $(VENV)/.installed-test chromium
	taskset -c 1 $(BIN)/python -m benchmarks.run --full

# The conversation store on SQLite and Postgres (docs/conversations.md, "What it costs"): a user with
# 10,000 conversations, a 500-message conversation, 200 answers ending at once; about 10 minutes.
bench-store: $(VENV)/.installed-bench postgres
	taskset -c 1 $(BIN)/python -m benchmarks.store --rounds 5 --json benchmarks/results/store.json

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site
