# Ensemble: the two commands are `make run` and `make test`.
CARGO ?= cargo
CONFIG ?= ensemble.toml

.PHONY: run build test lint bench load fmt clean

## Build in release mode, write ensemble.toml with safe defaults if missing, start on 127.0.0.1:8008.
run: build
	@test -f $(CONFIG) || ./target/release/ensemble generate-config --output $(CONFIG)
	./target/release/ensemble serve --config $(CONFIG)

build:
	$(CARGO) build --release --bin ensemble

## Every test: unit tests and the HTTP integration tests (nextest runs them in parallel when present).
test:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --no-fail-fast; \
	else \
		$(CARGO) test --no-fail-fast; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Criterion benches (release profile).
bench:
	$(CARGO) bench

clean:
	$(CARGO) clean
