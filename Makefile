# Ensemble: the two commands are `make run` and `make test`.
CARGO ?= cargo
CONFIG ?= ensemble.toml

.PHONY: run build test test-postgres lint bench load fmt clean

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

## The same tests with every test server on PostgreSQL: a throwaway cluster (Debian's postgresql
## package, installed with apt-get when missing) serves the run and is removed after it.
test-postgres:
	@dir=$$(mktemp -d); \
	url=$$(scripts/pg-test-server start "$$dir") || exit 1; \
	trap 'scripts/pg-test-server stop "$$dir"' EXIT; \
	ENSEMBLE_TEST_PG="$$url" $(MAKE) --no-print-directory test

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
