# hstack — see README.md. `make help` lists the targets.
SHELL := /usr/bin/env bash
GO    ?= go
BIN   := bin
PKG   := github.com/hstack-dev/hstack

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.Commit=$(COMMIT) \
           -X $(PKG)/pkg/pingapp.Version=$(VERSION) -X $(PKG)/pkg/pingapp.Commit=$(COMMIT)
# Integration tests boot Nomad, Consul, Vault and PostgreSQL; give them room.
TEST_TIMEOUT ?= 40m

export GOFLAGS := -buildvcs=false

.PHONY: help build test unit bench lint tools deps runtime-tools test-tools preflight demo demo-down clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/hstack and bin/pingapp
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/hstack ./cmd/hstack
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/pingapp ./cmd/pingapp

deps: ## install missing Debian packages (postgresql, prometheus, haproxy, ...)
	@scripts/deps.sh

runtime-tools: deps ## Nomad (with its web UI), Consul, Vault and Terraform at the pinned versions (what the demo runs)
	@scripts/tools.sh nomad-ui consul vault terraform alertmanager-ui

# What only the tests run: Packer (hstack image build), the AWS provider
# (offline mirror) and Trivy (terraform/), the autoscaler, actionlint and
# GoReleaser with syft for its SBOMs (autoscaling, workflow and release
# tests), gosec (the security scan).
test-tools: runtime-tools
	@scripts/tools.sh packer aws-provider trivy nomad-autoscaler actionlint goreleaser syft gosec

tools: deps ## every pinned tool: Nomad, Consul, Vault, Terraform, Packer
	@scripts/tools.sh

test: test-tools ## all tests, integration included, against real binaries
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

unit: ## only the tests that need no external process
	$(GO) test -count=1 -short ./...

bench: runtime-tools ## benchmarks: parsing and rendering 200 apps, analysis, and a canary release vs Nomad alone
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/stackfile ./pkg/render/... ./pkg/jobhcl ./pkg/analysis ./pkg/notify
	# One release per iteration on a real dev stack: a few minutes.
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 30m ./pkg/rollout
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./pkg/release # 10 apps with one canary each at once vs one app (goal: under 2x)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 20m ./pkg/vaultdb # creds/s, p50/p99 via hstack vs the Vault API; revoking 1,000 leases
	$(GO) test -run '^$$' -bench BenchmarkClusterBoot -benchtime 1x -timeout 20m ./pkg/devstack # dev up --cluster: boot time (goal: under 3 min warm) and memory

lint: ## gofmt, go vet, staticcheck, shellcheck, gosec
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	shellcheck -x -P SCRIPTDIR scripts/*.sh scripts/*/*.sh
	scripts/gosec.sh

# Before the long tool build: what `hstack dev up` needs that the build does not make.
preflight: deps ## check the dev stack's prerequisites (hstack dev check) before building anything
	@$(GO) run ./cmd/hstack dev check

.PHONY: screenshots
screenshots: runtime-tools build ## docs/images/*.png: the Nomad UI during a canary and after a rollback, taken by the browser test
	@mkdir -p docs/images
	HSTACK_SCREENSHOTS=$(CURDIR)/docs/images $(GO) test -count=1 -timeout 30m -run '^TestReleaseAsPeopleSeeIt$$' ./cmd/hstack

demo: preflight runtime-tools build ## local dev stack up, pingapp running as a Nomad job, URLs printed
	@scripts/demo.sh

demo-down: ## stop the demo's dev stack
	@$(BIN)/hstack dev down

clean: ## remove build output and the local dev stack's state (stops it first)
	-@[ -x $(BIN)/hstack ] && $(BIN)/hstack dev down >/dev/null 2>&1 || true
	rm -rf $(BIN) .hstack
