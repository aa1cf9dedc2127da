# Herald's build. Everything a target needs is built or installed by the target
# itself, pinned, under bin/: a fresh clone needs only Go (and gcc for -race).

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

## Location to install dependencies to.
LOCALBIN ?= $(shell pwd)/bin
export LOCALBIN

## Tool binaries and versions.
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
CONTROLLER_TOOLS_VERSION ?= v0.23.0

## Go files gofmt checks (generated and hand-written alike; testdata excluded).
GO_FILES = $$(find . -name '*.go' -not -path './bin/*' -not -path './.git/*' -not -path '*/testdata/*')

## Packages the end-to-end suite needs on the host (`make deps`).
E2E_DEPS ?= bird2 keepalived iputils-arping iptables curl

## Packages `make test` and `make bench` run; override to narrow a run,
## e.g. `make test PKGS=./internal/...`.
PKGS ?= ./...
BENCH_PKGS ?= ./test/bench/...
## Extra flags for go test, e.g. `make test TEST_FLAGS='-run TestEip -v'`.
TEST_FLAGS ?=
BENCH_FLAGS ?=

## The real kube-apiserver and etcd the envtest-based tests run against.
TEST_ENV := KUBEBUILDER_ASSETS=$(LOCALBIN)

.PHONY: all
all: build

##@ General

# The help target prints out all targets with their descriptions organized
# beneath their categories. The categories are represented by '##@' and the
# target descriptions by '##'.
.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook configurations under config/.
	$(CONTROLLER_GEN) rbac:roleName=herald-controller crd webhook paths=./... \
		output:crd:artifacts:config=config/crd/bases \
		output:rbac:artifacts:config=config/rbac \
		output:webhook:artifacts:config=config/webhook

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Format the Go code (gofmt -w).
	gofmt -w $(GO_FILES)

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: ## Fail on unformatted Go files, then run go vet.
	@unformatted="$$(gofmt -l $(GO_FILES))"; \
	if [[ -n "$${unformatted}" ]]; then \
		echo "gofmt would change these files (run 'make fmt'):"; \
		echo "$${unformatted}"; \
		exit 1; \
	fi
	go vet ./...

.PHONY: verify
verify: generate manifests ## Regenerate code and manifests; fail if api/ or config/ differ from git.
	@changed="$$(git status --porcelain -- api config)"; \
	if [[ -n "$${changed}" ]]; then \
		echo "verify: generated files differ from what git has (uncommitted or stale):"; \
		echo "$${changed}"; \
		echo "run 'make generate manifests' and commit the result."; \
		exit 1; \
	fi; \
	echo "verify: generated code and manifests are up to date"

.PHONY: test
test: control-plane ## Run all tests (unit, fuzz seeds, envtest) against a real kube-apiserver and etcd.
	$(TEST_ENV) go test -race -count=1 -p 1 -timeout 40m $(TEST_FLAGS) $(PKGS)

.PHONY: bench
bench: control-plane ## Run the benchmarks once each (test/bench) against a real kube-apiserver.
	@if ! compgen -G 'test/bench/*.go' >/dev/null; then \
		echo "bench: no benchmarks yet (test/bench is empty)"; \
		exit 1; \
	fi
	$(TEST_ENV) go test -p 1 -run '^$$' -bench . -benchtime 1x $(BENCH_FLAGS) $(BENCH_PKGS)

##@ Build

.PHONY: build
build: ## Build Herald's commands (cmd/*) into bin/.
	@if ! compgen -G 'cmd/*/*.go' >/dev/null; then \
		echo "build: no commands under cmd/ yet"; \
		exit 0; \
	fi; \
	mkdir -p $(LOCALBIN); \
	echo go build -o $(LOCALBIN)/ ./cmd/...; \
	go build -o $(LOCALBIN)/ ./cmd/...

.PHONY: control-plane
control-plane: ## Build kube-apiserver, kubectl and etcd from source into bin/ if missing or stale.
	hack/build-control-plane.sh

.PHONY: control-plane-e2e
control-plane-e2e: ## Like control-plane, plus kube-proxy (the e2e suite needs it).
	hack/build-control-plane.sh --with-kube-proxy

.PHONY: deps
deps: ## Install the Debian packages the e2e suite needs (only those missing).
	hack/install-deps.sh $(E2E_DEPS)

.PHONY: clean
clean: ## Remove Herald's binaries and the Go test cache (keeps the control plane and tools).
	rm -f $(LOCALBIN)/herald-*
	go clean -testcache

.PHONY: clean-all
clean-all: ## Remove bin/ entirely (the next test run rebuilds kube-apiserver, ~10 min).
	rm -rf $(LOCALBIN)

##@ Dependencies

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: $(LOCALBIN) ## Install the pinned controller-gen into bin/ if missing or another version.
	@if ! [[ -x "$(CONTROLLER_GEN)" ]] || \
		[[ "$$("$(CONTROLLER_GEN)" --version 2>/dev/null)" != "Version: $(CONTROLLER_TOOLS_VERSION)" ]]; then \
		echo "installing controller-gen $(CONTROLLER_TOOLS_VERSION)"; \
		GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION); \
	fi
