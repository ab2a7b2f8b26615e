# kefu — the two commands a newcomer needs are `go run ./cmd/kefu` and `make test`.
GO ?= go
# Tests fail (rather than skip) when Redis or Chromium is missing under make.
TEST_ENV = KEFU_REQUIRE_REDIS=1 KEFU_REQUIRE_BROWSER=1
TEST_FLAGS ?= -race -count=1 -timeout 25m

.PHONY: run test test-deps lint bench build fuzz

run:
	$(GO) run ./cmd/kefu

build:
	$(GO) build -o bin/kefu ./cmd/kefu

# Installs/starts what the tests need, then runs every suite.
test: test-deps
	$(TEST_ENV) $(GO) test $(TEST_FLAGS) ./...
	$(GO) run ./cmd/kefu flows lint configs/flows
	$(GO) run ./cmd/kefu flows test configs/flows

test-deps:
	./scripts/ensure-redis.sh
	./scripts/ensure-chromium.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) run ./cmd/kefu flows lint configs/flows
	$(GO) run ./cmd/kefu flows test configs/flows

# Benchmarks and the load tool (needs Redis on 127.0.0.1:6379).
bench: test-deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench/webload

# Every fuzz target for FUZZTIME each (default 30s; some need Redis). Not
# part of `make test`, which replays the kept seeds only.
fuzz:
	./scripts/ensure-redis.sh
	./scripts/fuzz.sh
