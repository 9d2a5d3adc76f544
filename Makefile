# Every target sets up what it needs: a .venv with the project, and (for tests) the Debian
# packages of the real peers the tests talk to.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Real test peers: PostgreSQL (the desktop's data layer), redis-server (fleet-wide limits),
# Chromium (the public pages in a browser), SpamAssassin's spamd (spam scores), Perl's
# Mail::DKIM (an independent DKIM verifier), swaks and Postfix's smtp-source (SMTP intake
# clients), Prometheus's promtool and the libraries Qt needs to run offscreen.
APT_TEST_PEERS := postgresql redis-server chromium spamassassin spamd libmail-dkim-perl swaks postfix prometheus libegl1 libgl1 libglib2.0-0 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 libx11-6 libxcb1 fonts-dejavu-core

# Benchmark peers: Postfix with its smtp-source and smtp-sink, and OpenDKIM (a milter signer),
# for the side-by-side figures.
APT_BENCH_PEERS := postfix opendkim opendkim-tools

.PHONY: venv run demo agent test lint typecheck pytest bench protos constraints test-peers bench-peers dist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

## run: the desktop with a local agent (data in ./var/agent); PORT=7543 moves its gRPC port
## (HTTP: PORT+10), kept for later runs
run: venv
	$(BIN)/python -m mailfleet.agent.runlocal --data-dir var/agent $(if $(PORT),--port $(PORT))

## demo: a headless end-to-end demo in a temporary directory
demo: venv
	$(BIN)/python -m mailfleet.agent.demo

# Installs the Debian packages named in $(1) that are missing (Postfix without questions).
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  echo "postfix postfix/main_mailer_type select No configuration" | $(SUDO) debconf-set-selections; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

test-peers:
	$(call apt_install,$(APT_TEST_PEERS))

bench-peers:
	$(call apt_install,$(APT_BENCH_PEERS))

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

# One test process per core: most tests wait on real agents and servers, not on the CPU.
# Modules stay whole on one process, so a module's shared agent is started once.
pytest: venv test-peers
	$(BIN)/pytest -n auto --dist loadscope --durations=25

## test: every check and test
test: lint typecheck pytest

## bench: speed figures (not pass/fail)
bench: venv bench-peers
	$(BIN)/python -m bench

## protos: regenerate the committed gRPC stubs from protos/*.proto
protos: venv
	$(BIN)/python protos/generate.py

## constraints: re-pin the versions the agent's installer uses (after changing dependencies)
constraints: venv
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet \
		--custom-compile-command "make constraints" -o installers/agent/constraints.txt

## dist: the desktop as a one-folder bundle, dist/mailfleet-desktop/ (with its .desktop and icon)
dist: venv
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		installers/desktop/mailfleet-desktop.spec
	cp installers/desktop/mailfleet-desktop.desktop installers/desktop/mailfleet.svg \
		dist/mailfleet-desktop/

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
