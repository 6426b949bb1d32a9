# Heartline: `make run` to see it work, `make test` for everything CI checks.
# Both install what is missing first (scripts/bootstrap.sh), idempotently.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test bench deps fmt fmt-check clippy rust-test lab

## run: build, start the fault lab on loopback and watch its endpoints live in the terminal
run: deps
	$(CARGO) build --locked -p heartline-lab -p heartline-cli
	scripts/demo.sh

## test: formatting, lints with warnings as errors, and every test
test: deps fmt-check clippy rust-test

## bench: every benchmark, figures printed and recorded in BENCHMARKS.md
bench: deps
	$(CARGO) build --locked --release -p heartline-lab -p heartline-bench
	./target/release/heartline-bench
	$(CARGO) bench --locked -p heartline-store --bench store

## lab: run the misbehaving WebSocket server on its own
lab: deps
	$(CARGO) run --locked -p heartline-lab

deps:
	@scripts/bootstrap.sh

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
