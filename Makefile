# wharf: a Docker token server (cmd/auth) and an OCI registry (cmd/registry).
# `make help` lists the targets. Every target works with only Go installed,
# except `make e2e` and `make images`, which need a Docker engine.

GO       ?= go
BIN      := bin
CMDS     := auth registry htpasswd certgen healthcheck
TAG      ?= dev
HOST     ?=
CERTS    := deploy/compose/certs
# The user the images run as; bind-mounted keys must be readable by it.
IMAGE_UID := 65532

# -race needs cgo and a C compiler; on a machine with only Go, run the same
# tests without the race detector rather than failing (say so loudly).
RACE := $(shell command -v "$$(CGO_ENABLED=1 $(GO) env CC)" >/dev/null 2>&1 && echo -race)

# Fails listing the files when any Go file is not gofmt-formatted.
GOFMT_CHECK = @out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed (run make fmt):"; echo "$$out"; exit 1; fi

.DEFAULT_GOAL := help
.PHONY: help build run test stock hardening e2e certs compose-config images fmt lint clean

help: ## Show the targets and what they do
	@echo "usage: make TARGET"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/auth, bin/registry, bin/htpasswd, bin/certgen, bin/healthcheck (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

run: build ## Run auth on localhost:5001 and the registry on localhost:5000 with the dev configs (Ctrl-C stops)
	@scripts/run.sh

stock: ## Build the stock registries and the S3 servers the tests run beside ours (Go module proxy; cached)
	@scripts/stock-registries.sh install
	@scripts/s3-servers.sh install

# test/interop is a module of its own (the stock registries' token code and
# its old pins stay out of our go.mod), so ./... does not reach it.
INTEROP := test/interop

test: stock ## go vet, gofmt check, then every Go-only test (with -race when a C compiler exists)
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	$(GO) vet -tags systools $(SYSTOOLS_PKGS)
	cd $(INTEROP) && $(GO) vet ./...
	$(GOFMT_CHECK)
ifeq ($(RACE),)
	@echo "make test: WARNING: no C compiler found, so -race is OFF (install gcc to enable it)" >&2
endif
	CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -count=1 -timeout 30m ./...
	cd $(INTEROP) && CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -count=1 -timeout 10m ./...

# Packages with tests (build tag systools) that drive programs from Debian
# packages rather than Go alone: OpenLDAP's slapd, Chromium, Apache's htpasswd.
SYSTOOLS_PKGS := ./cmd/auth/ ./cmd/htpasswd/ ./internal/authserver/ ./internal/ui/

.PHONY: test-tools
test-tools: ## The tests that need Debian's slapd, chromium and apache2-utils (fail without them; .ci/run installs them)
	CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -tags systools -count=1 -timeout 20m $(SYSTOOLS_PKGS)

# Fuzz targets (package and name) that `make hardening` runs for FUZZTIME each.
FUZZ_TARGETS := ./pkg/token:FuzzParseScope ./pkg/token:FuzzVerify ./pkg/acl:FuzzMatchPattern \
	./pkg/reference:FuzzReferenceGrammar ./pkg/manifest:FuzzParse \
	./internal/regserver:FuzzParseRoute ./internal/regserver:FuzzParseContentRange \
	./internal/authserver:FuzzTokenResponseBytesEqualEncodingJSON \
	./internal/logtext:FuzzLinesAreByteForByteSlogs ./pkg/token:FuzzScopeGrammarMatchesRegexps
# An execution count, not a duration: a duration races the fuzz coordinator's
# own deadline on a busy machine and fails with "context deadline exceeded"
# and no crasher (golang/go#75804, fixed in Go 1.27). A few seconds a target here.
FUZZTIME ?= 50000x

hardening: ## test/hardening with its slow parts (login timing, many kill -9 rounds), then every fuzz target briefly
	WHARF_HARDENING_SLOW=1 $(GO) test -count=1 -timeout 20m ./test/hardening/
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$${t#*:}$$" -fuzztime=$(FUZZTIME) "$${t%%:*}"; \
	done

# Extra flags for `make bench`, e.g. BENCH_FLAGS='-rows 1,2 -reps 3'.
BENCH_FLAGS ?=

.PHONY: bench
bench: build ## Measure both programs beside same-run limits, print the table, write BENCHMARKS.md (8-13 min; never fails on a number)
	$(GO) run ./bench -bin $(BIN) -out BENCHMARKS.md $(BENCH_FLAGS)

e2e: ## The docker journey, with docker-compose and with docker compose when installed (needs a Docker engine; fails if none)
	@scripts/require-docker.sh
	$(MAKE) --no-print-directory images
	$(GO) test -tags e2e -count=1 -v -timeout 40m ./test/e2e/

certs: build ## Create the CA, TLS and token certificates in deploy/compose/certs (HOST=name adds a host)
	$(BIN)/certgen --out $(CERTS) $(foreach h,$(subst $(comma), ,$(HOST)),--host $(h)) \
		$(if $(filter 0,$(shell id -u)),--owner $(IMAGE_UID):$(IMAGE_UID))
	@if [ "$$(id -u)" != 0 ]; then \
		echo "NOTE: the containers run as uid $(IMAGE_UID); give them the keys with:"; \
		echo "  sudo chown $(IMAGE_UID):$(IMAGE_UID) $(CERTS)/server.key $(CERTS)/token.key"; fi

compose-config: build ## Ask for (or read ADMIN_PASSWORD/READER_PASSWORD) passwords and write the compose auth config
	@deploy/compose/setup.sh

images: build ## Build the FROM-scratch images wharf/auth:$(TAG) and wharf/registry:$(TAG) from bin/
	@scripts/build-images.sh $(TAG)

fmt: ## Format every Go file
	gofmt -w .

lint: ## gofmt -l and go vet (also the e2e files and test/interop)
	$(GOFMT_CHECK)
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	$(GO) vet -tags systools $(SYSTOOLS_PKGS)
	cd $(INTEROP) && $(GO) vet ./...

clean: ## Remove bin/ (keeps ./data and ./.dev, which hold your dev registry and keys)
	rm -rf $(BIN)

comma := ,
