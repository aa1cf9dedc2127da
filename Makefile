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
KUSTOMIZE ?= $(LOCALBIN)/kustomize
## v5.8.3 and later need Go 1.27.
KUSTOMIZE_VERSION ?= v5.8.2
## The Helm CLI the chart tests run (test/chart); built from its Go module.
HELM ?= $(LOCALBIN)/helm
HELM_VERSION ?= v4.3.2

## The one-file install: config/default rendered by kustomize (`make release-manifest`).
RELEASE_MANIFEST ?= deploy/herald.yaml
## The Helm chart; `make chart` refreshes its copy of the generated objects.
CHART_DIR ?= deploy/charts/herald
## The KubeSphere 4.x extension; `make chart` copies the chart into its charts/.
KS_EXTENSION_DIR ?= deploy/kubesphere/herald

## Go files gofmt checks (generated and hand-written alike; testdata excluded).
GO_FILES = $$(find . -name '*.go' -not -path './bin/*' -not -path './.git/*' -not -path '*/testdata/*')

## Packages the end-to-end suite needs on the host (`make deps`): test/e2e/rig
## runs ip, sysctl, ping, bird/birdc, FRR (zebra, bgpd, bfdd, vtysh: the
## second ToR) and iptables inside network namespaces.
E2E_DEPS ?= bird2 frr keepalived iputils-arping iputils-ping iproute2 iptables procps curl tcpdump

## Packages the cluster testbed (test/kcluster) needs on the host besides
## E2E_DEPS: runc runs the containers containerd starts, the CNI reference
## plugins (bridge, host-local, loopback in /usr/lib/cni) wire the pods.
CLUSTER_DEPS ?= runc containernetworking-plugins

## Packages `make images` needs on the host: buildah builds the images,
## debootstrap makes the Debian base that carries keepalived.
IMAGE_DEPS ?= buildah debootstrap

## Image version and tag (`make images VERSION=v0.1.0`), and the
## architectures: the Go images cross-compile; herald-keepalived's Debian
## base for a foreign architecture would need qemu-user-static.
VERSION ?= $(shell git describe --always --dirty)
IMAGE_ARCHES ?= amd64 arm64
## The name the archives carry is IMAGE_PREFIX<image>:VERSION; docker.io/library/
## is how the kubelet normalizes the manifests' herald-controller:TAG.
IMAGE_PREFIX ?= docker.io/library/
## DOCKER_ARCHIVES=1 also writes docker-save archives (*.docker.tar) for
## Docker Engines older than 25, which load no OCI archive.
DOCKER_ARCHIVES ?=
KEEPALIVED_ARCHES ?= amd64

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

# Each command's roles come from the +kubebuilder:rbac markers of the
# packages linked into it, and only those: the speaker's markers (speaker/)
# must not widen the controller's permissions, nor the controller's the
# speaker's. herald-controller's ClusterRole and Role go to config/rbac,
# herald-speaker's ClusterRole to config/speaker; they are named
# "controller" and "speaker", and config/default's namePrefix makes them
# herald-controller and herald-speaker, like every other object it renders.
main_pkgs = $$(go list -deps -f '{{with .Module}}{{if .Main}}{{$$.ImportPath}}{{end}}{{end}}' $(1) | paste -sd ';' -)
CONTROLLER_PKGS = $(call main_pkgs,./cmd/herald-controller)
SPEAKER_PKGS = $(call main_pkgs,./cmd/herald-speaker)

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook configurations under config/.
	$(CONTROLLER_GEN) crd webhook paths=./... \
		output:crd:artifacts:config=config/crd/bases \
		output:webhook:artifacts:config=config/webhook
	$(CONTROLLER_GEN) rbac:roleName=controller paths="$(CONTROLLER_PKGS)" \
		output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=speaker paths="$(SPEAKER_PKGS)" \
		output:rbac:artifacts:config=config/speaker

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Format the Go code (gofmt -w).
	gofmt -w $(GO_FILES)

## go vet compiles every package it checks; with the flags the images'
## static binaries are built with (hack/build-images.sh: CGO_ENABLED=0,
## -trimpath), `make images` after `make lint` only links (seconds, not the
## minutes of a cold compile). Nothing in Herald uses cgo.
VET = CGO_ENABLED=0 go vet -trimpath

.PHONY: vet
vet: ## Run go vet.
	$(VET) ./...

.PHONY: lint
lint: ## Fail on unformatted Go files, then run go vet.
	@unformatted="$$(gofmt -l $(GO_FILES))"; \
	if [[ -n "$${unformatted}" ]]; then \
		echo "gofmt would change these files (run 'make fmt'):"; \
		echo "$${unformatted}"; \
		exit 1; \
	fi
	$(VET) ./...

.PHONY: release-manifest
release-manifest: manifests kustomize ## Render config/default into deploy/herald.yaml, the one-file install.
	@mkdir -p $(dir $(RELEASE_MANIFEST))
	@{ \
		echo '# Herald: CRDs, RBAC, herald-controller and its admission webhooks, and the'; \
		echo '# herald-speaker and herald-keepalived DaemonSets (host network, every node),'; \
		echo '# in herald-system.'; \
		echo '# Generated by `make release-manifest` from config/default; do not edit.'; \
		$(KUSTOMIZE) build config/default; \
	} > $(RELEASE_MANIFEST).tmp
	@mv $(RELEASE_MANIFEST).tmp $(RELEASE_MANIFEST)
	@echo "release-manifest: wrote $(RELEASE_MANIFEST)"

# The extension's charts/herald is a copy, not a symlink: ksbuilder copies
# the extension directory elsewhere before packaging it, which breaks a
# relative link.
.PHONY: chart
chart: release-manifest ## Copy the generated objects of deploy/herald.yaml into the Helm chart (files/generated), and the chart into the KubeSphere extension.
	hack/chart-files.sh $(RELEASE_MANIFEST) $(CHART_DIR)
	rm -rf $(KS_EXTENSION_DIR)/charts
	mkdir -p $(KS_EXTENSION_DIR)/charts
	cp -R $(CHART_DIR) $(KS_EXTENSION_DIR)/charts/herald

.PHONY: verify
verify: generate manifests release-manifest chart ## Regenerate code, manifests and the chart's generated files; fail if api/, config/ or deploy/ differ from git.
	@changed="$$(git status --porcelain -- api config deploy)"; \
	if [[ -n "$${changed}" ]]; then \
		echo "verify: generated files differ from what git has (uncommitted or stale):"; \
		echo "$${changed}"; \
		echo "run 'make generate manifests release-manifest chart' and commit the result."; \
		exit 1; \
	fi; \
	echo "verify: generated code and manifests are up to date"

.PHONY: test
test: control-plane helm e2e-deps ## Run all tests (unit, fuzz seeds, envtest, netns e2e) against a real kube-apiserver and etcd.
	$(TEST_ENV) go test -race -count=1 -p 1 -timeout 40m $(TEST_FLAGS) $(PKGS)

.PHONY: bench
bench: control-plane ## Run the benchmarks once each (test/bench) against a real kube-apiserver.
	@if ! compgen -G 'test/bench/*.go' >/dev/null; then \
		echo "bench: no benchmarks yet (test/bench is empty)"; \
		exit 1; \
	fi
	$(TEST_ENV) go test -p 1 -timeout 30m -run '^$$' -bench . -benchtime 1x $(BENCH_FLAGS) $(BENCH_PKGS)

##@ Demo

.PHONY: demo
demo: ## Bring up the local demo cluster (root): a Service gets an IP from Herald, the ToR routes it, curl answers.
	@if [[ "$$(id -u)" -ne 0 ]]; then \
		echo "demo: needs root (it builds network namespaces); run it as root"; \
		exit 1; \
	fi
	hack/install-deps.sh $(E2E_DEPS)
	hack/build-control-plane.sh --with-kube-proxy
	@mkdir -p $(LOCALBIN)
	go build -o $(LOCALBIN)/herald-demo ./test/e2e/cmd/herald-demo
	$(LOCALBIN)/herald-demo up

.PHONY: demo-down
demo-down: ## Remove the demo cluster: its processes, namespaces and state.
	@mkdir -p $(LOCALBIN)
	go build -o $(LOCALBIN)/herald-demo ./test/e2e/cmd/herald-demo
	$(LOCALBIN)/herald-demo down

.PHONY: cluster
cluster: helm ## Bring up the cluster testbed (root): two nodes where containerd and kubelets run Herald's images, installed from the Helm chart; the demo's Services answer curl. Left running.
	@if [[ "$$(id -u)" -ne 0 ]]; then \
		echo "cluster: needs root (network namespaces, containerd, kubelets); run it as root"; \
		exit 1; \
	fi
	$(MAKE) --no-print-directory e2e-deps
	@mkdir -p $(LOCALBIN)
	go build -o $(LOCALBIN)/herald-demo ./test/e2e/cmd/herald-demo
	$(LOCALBIN)/herald-demo up -kubelets -dir /tmp/herald-cluster

.PHONY: cluster-down
cluster-down: ## Remove the cluster testbed: kubelets, containers, namespaces, cgroups, state; the kernel sysctls the kubelets changed are restored.
	@mkdir -p $(LOCALBIN)
	go build -o $(LOCALBIN)/herald-demo ./test/e2e/cmd/herald-demo
	$(LOCALBIN)/herald-demo down -kubelets -dir /tmp/herald-cluster

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

.PHONY: images
images: ## Build the herald-controller, herald-speaker and herald-keepalived images (root, buildah, no registry) into bin/images/*.oci.tar.
	hack/install-deps.sh $(IMAGE_DEPS)
	VERSION=$(VERSION) ARCHES="$(IMAGE_ARCHES)" KEEPALIVED_ARCHES="$(KEEPALIVED_ARCHES)" \
		IMAGE_PREFIX="$(IMAGE_PREFIX)" DOCKER_ARCHIVES="$(DOCKER_ARCHIVES)" hack/build-images.sh

.PHONY: testbed-images
testbed-images: ## Build the cluster testbed's own images (root): herald-kube-proxy (bin/kube-proxy, iptables) and herald-httpname (the web backends).
	hack/install-deps.sh $(IMAGE_DEPS)
	VERSION=$(VERSION) TESTBED=1 hack/build-images.sh

.PHONY: images-check
images-check: ## Inspect the archives `make images` wrote (entrypoint, user, labels, static binaries, keepalived).
	HERALD_IMAGES_DIR=$(LOCALBIN)/images go test -count=1 $(TEST_FLAGS) ./test/images/...

.PHONY: control-plane
control-plane: ## Build kube-apiserver, kubectl and etcd from source into bin/ if missing or stale.
	hack/build-control-plane.sh

.PHONY: control-plane-e2e
control-plane-e2e: ## Like control-plane, plus kube-proxy (the e2e suite needs it).
	hack/build-control-plane.sh --with-kube-proxy

.PHONY: cluster-deps
cluster-deps: ## Install runc and the CNI plugins; build kubelet, kube-controller-manager, kube-scheduler and containerd 2.x (with kube-apiserver's build) into bin/. The images come from `make images`.
	hack/install-deps.sh $(E2E_DEPS) $(CLUSTER_DEPS)
	hack/build-control-plane.sh --with-kube-proxy --with-cluster

.PHONY: deps
deps: ## Install the Debian packages the e2e suite needs (only those missing).
	hack/install-deps.sh $(E2E_DEPS)

# As root (CI), `make test` runs the netns e2e suite, so it installs what that
# needs first; installed packages cost one dpkg-query each. Not root: the
# suite skips itself (loudly), and nothing is installed behind sudo.
.PHONY: e2e-deps
e2e-deps: ## Like cluster-deps (kube-proxy, kubelet, containerd, ...) plus this commit's amd64 images when missing, only when running as root (make test's prerequisite).
	@if [[ "$$(id -u)" -eq 0 ]]; then \
		hack/install-deps.sh $(E2E_DEPS) $(CLUSTER_DEPS); \
		hack/build-control-plane.sh --with-kube-proxy --with-cluster; \
		if ! [[ -f "$(LOCALBIN)/images/herald-pause-$(VERSION)-amd64.oci.tar" ]]; then \
			echo "e2e-deps: building this commit's amd64 images for test/kcluster's kubelets"; \
			$(MAKE) --no-print-directory images IMAGE_ARCHES=amd64; \
		fi; \
		if ! [[ -f "$(LOCALBIN)/images/testbed/herald-kube-proxy-$(VERSION)-amd64.oci.tar" ]]; then \
			$(MAKE) --no-print-directory testbed-images; \
		fi; \
	else \
		echo "e2e-deps: not root, not installing $(E2E_DEPS) $(CLUSTER_DEPS) nor building kube-proxy and the cluster binaries (the netns e2e tests will skip)"; \
	fi

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

.PHONY: kustomize
kustomize: $(LOCALBIN) ## Install the pinned kustomize into bin/ if missing or another version.
	@if ! [[ -x "$(KUSTOMIZE)" ]] || \
		[[ "$$("$(KUSTOMIZE)" version 2>/dev/null)" != "$(KUSTOMIZE_VERSION)" ]]; then \
		echo "installing kustomize $(KUSTOMIZE_VERSION)"; \
		GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION); \
	fi

# `helm version` prints only major.minor when built with go install, so the
# module version is read from the binary's build information instead.
.PHONY: helm
helm: $(LOCALBIN) ## Install the pinned Helm CLI into bin/ if missing or another version (~2 min cold).
	@if ! [[ -x "$(HELM)" ]] || \
		[[ "$$(go version -m "$(HELM)" 2>/dev/null | awk '$$1 == "mod" && $$2 == "helm.sh/helm/v4" { print $$3 }')" != "$(HELM_VERSION)" ]]; then \
		echo "installing helm $(HELM_VERSION)"; \
		GOBIN=$(LOCALBIN) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION); \
	fi
