# Heartline: `make run` to see it work, `make test` for everything CI checks.
# Both install what is missing first (scripts/bootstrap.sh), idempotently.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run demo test bench bench-ui deps fmt fmt-check clippy rust-test lab ui ui-test e2e package package-test

## run: build and open the desktop app (database in your data directory, or $HEARTLINE_DB)
run: deps ui
	$(CARGO) build --locked -p heartline-app
	./target/debug/heartline-app

## demo: start the fault lab on loopback and watch its endpoints live in the terminal
demo: deps
	$(CARGO) build --locked -p heartline-lab -p heartline-cli
	scripts/demo.sh

## test: formatting, lints with warnings as errors, every test, the UI's and the app end to end,
## and the packages' contents checked and run from an extracted .deb
test: deps fmt-check ui clippy rust-test ui-test e2e package-test

## package: the .deb and .rpm (release build) in target/package/: the desktop app with its
## launcher entry, the heartline command, and the agent as a systemd service (disabled)
package: deps ui
	scripts/package.sh

## package-test: package the debug build once and check it without installing (no root)
package-test: deps ui
	scripts/package-test.sh

## bench: every benchmark, figures printed and recorded in BENCHMARKS.md
bench: deps
	$(CARGO) build --locked --release -p heartline-lab -p heartline-bench
	./target/release/heartline-bench
	$(CARGO) bench --locked -p heartline-store --bench store
	$(CARGO) bench --locked -p heartline-report --bench export
	$(MAKE) --no-print-directory bench-ui

## bench-ui: the release app with 1 000 endpoints against the lab: launch, live CPU/RSS, 30-day detail
bench-ui: deps ui
	$(CARGO) build --locked --release -p heartline-app -p heartline-lab -p heartline-cli
	cd ui && node e2e/bench.mjs

## lab: run the misbehaving WebSocket server on its own
lab: deps
	$(CARGO) run --locked -p heartline-lab

deps:
	@scripts/bootstrap.sh

## ui: build the UI into ui/dist (the app embeds it)
ui: deps
	cd ui && npm run build

## ui-test: the UI's strict type check over every .ts and .svelte file (warnings fail), then vitest
ui-test: deps
	cd ui && npm run check
	cd ui && npm test

## e2e: the real app under Xvfb, driven by tauri-driver + WebKitWebDriver, against the lab
e2e: deps ui
	$(CARGO) build --locked -p heartline-app -p heartline-lab
	cd ui && node e2e/run.mjs

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

rust-test:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --locked --workspace --no-fail-fast; \
	else \
		$(CARGO) test --locked --workspace --no-fail-fast; \
	fi
