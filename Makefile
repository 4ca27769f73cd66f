# VERSION is the release version (x.y.z, no leading v): stamped into the binary, the image tag of
# IMG and dist/install.yaml, and the chart's version and appVersion when packaged.
VERSION ?= 0.0.0-dev
# REVISION is the source revision stamped into the binary.
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
# IMAGE_REPO is where release images are pushed; IMG is the image of every building/pushing target.
IMAGE_REPO ?= ghcr.io/imageshare/imageshare-operator
IMG ?= $(IMAGE_REPO):$(VERSION)
VERSION_PKG = github.com/imageshare/imageshare-operator/internal/version
LDFLAGS ?= -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION)
# YEAR defines the year value used for substituting the YEAR placeholder in the boilerplate header.
YEAR ?= $(shell date +%Y)

# Files that controller-gen writes; `make verify` fails when they are stale.
GENERATED = $(sort $(wildcard config/crd/bases/*.yaml) config/rbac/role.yaml $(wildcard api/*/zz_generated.deepcopy.go))
GO_TEST_FLAGS ?= -count=1 -timeout 40m

# Get the currently used golang install path (in GOPATH/bin, unless GOBIN is set)
ifeq (,$(shell go env GOBIN))
GOBIN=$(shell go env GOPATH)/bin
else
GOBIN=$(shell go env GOBIN)
endif

# CONTAINER_TOOL defines the container tool to be used for building images.
# Be aware that the target commands are only tested with Docker which is
# scaffolded by default. However, you might want to replace it to use other
# tools. (i.e. podman)
CONTAINER_TOOL ?= docker

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

# The help target prints out all targets with their descriptions organized
# beneath their categories. The categories are represented by '##@' and the
# target descriptions by '##'. The awk command is responsible for reading the
# entire set of makefiles included in this invocation, looking for lines of the
# file as xyz: ## something, and then pretty-format the target and help. Then,
# if there's a line with ##@ something, that gets pretty-printed as a category.
# More info on the usage of ANSI control characters for terminal formatting:
# https://en.wikipedia.org/wiki/ANSI_escape_code#SGR_parameters
# More info on the awk command:
# http://linuxcommand.org/lc3_adv_awk.php

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate WebhookConfiguration, ClusterRole and CustomResourceDefinition objects.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate code containing DeepCopy, DeepCopyInto, and DeepCopyObject method implementations.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt",year=$(YEAR) paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

# CROSS_PLATFORMS are the GOOS/GOARCH pairs besides this machine's that `make test` and `make demo`
# must compile for (tests included: go vet compiles them).
CROSS_PLATFORMS ?= darwin/arm64

.PHONY: vet-cross
vet-cross: ## Run go vet (which compiles the tests too) for each of CROSS_PLATFORMS (macOS).
	@for p in $(CROSS_PLATFORMS); do \
		echo "GOOS=$${p%/*} GOARCH=$${p#*/} go vet ./..."; \
		GOOS="$${p%/*}" GOARCH="$${p#*/}" go vet ./... || exit 1; \
	done

.PHONY: verify
verify: controller-gen ## Fail when generated files (CRDs, RBAC, deepcopy) are stale.
	@before="$$(cat $(GENERATED) 2>/dev/null | cksum)"; \
	$(MAKE) --no-print-directory manifests generate >/dev/null; \
	after="$$(cat $(GENERATED) 2>/dev/null | cksum)"; \
	if [ "$$before" != "$$after" ]; then \
		echo "verify: generated files were stale and have been regenerated; review and commit:"; \
		git status --short -- config/crd config/rbac api; exit 1; \
	fi; echo "verify: generated files are up to date"
	@$(MAKE) --no-print-directory chart-check

.PHONY: readme-flags
readme-flags: ## Write the manager's flags (from `go run ./cmd --help`) into README.md's flag table.
	go run ./hack/readme-flags

.PHONY: envtest-assets
envtest-assets: envtest ## Provide kube-apiserver, etcd and kubectl for envtest (builds them once if offline).
	@hack/envtest-assets.sh "$(ENVTEST)" "$(ENVTEST_K8S_VERSION)" "$(LOCALBIN)" >/dev/null

.PHONY: test
test: verify lint fmt vet envtest-assets helm kustomize ## Run every test layer: unit, fuzz corpora, envtest, kubectl end-to-end.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh "$(ENVTEST)" "$(ENVTEST_K8S_VERSION)" "$(LOCALBIN)")" \
		go test $(GO_TEST_FLAGS) ./... -coverprofile cover.out
	$(MAKE) --no-print-directory test-race
	$(MAKE) --no-print-directory bench-smoke

# The default sizes take an estimated 12-13 minutes on 2 cores; the big shapes go through BENCH_ARGS
# (docs/benchmarks.md). Every run also writes its SVG plot into docs/bench/.
BENCH_ARGS ?= -n 100,500,1000 -tenants 1,4 -hot

.PHONY: bench
bench: build envtest-assets ## Measure convergence against Tencent's rate limits (BENCH_ARGS="-n 100,500,1000 -tenants 1,4 -hot").
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh "$(ENVTEST)" "$(ENVTEST_K8S_VERSION)" "$(LOCALBIN)")" \
		go run ./hack/bench -plots docs/bench $(BENCH_ARGS)

.PHONY: bench-smoke
bench-smoke: build envtest-assets ## Run the benchmark at a tiny size, so it keeps working.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh "$(ENVTEST)" "$(ENVTEST_K8S_VERSION)" "$(LOCALBIN)")" \
		go run ./hack/bench -n 10 -tenants 1,2 -hot -hot-objects 10 -resync-period 3s -resyncs 2 -changes 6 -plots $(LOCALBIN)/bench-smoke

# The inner loop: everything that needs no control plane. In internal/controller that is every
# test but the envtest Ginkgo suite (TestControllers): the planner-backed verdict tables and the
# reconciler against the fake cloud; in internal/policy every test but its envtest suite
# (TestPolicy): selection, aggregation, child specs and published data. Under 60 s on 2 cores with a warm build cache.
UNIT_PKGS = ./internal/planner/... ./internal/emulator/... ./internal/cloud/... ./internal/credentials/ ./internal/controller/ ./internal/policy/ ./internal/testenv/

.PHONY: test-unit
test-unit: ## Run the fast tests (planner, verdicts, fake-cloud reconciler, emulator, adapter); no control plane.
	go test -count=1 -skip '^(TestControllers|TestPolicy)$$' $(UNIT_PKGS)

.PHONY: test-race
test-race: ## Run the pure, emulator and adapter packages under the race detector.
	go test -race -count=1 ./internal/planner/... ./internal/emulator/... ./internal/cloud/...

.PHONY: test-e2e
test-e2e: envtest-assets ## Run only the kubectl end-to-end tests against a local control plane.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh "$(ENVTEST)" "$(ENVTEST_K8S_VERSION)" "$(LOCALBIN)")" \
		go test ./test/e2e/... -v -ginkgo.v

.PHONY: lint
lint: golangci-lint ## Run golangci-lint linter
	"$(GOLANGCI_LINT)" run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint linter and perform fixes
	"$(GOLANGCI_LINT)" run --fix

.PHONY: lint-config
lint-config: golangci-lint ## Verify golangci-lint linter configuration
	"$(GOLANGCI_LINT)" config verify

##@ Demo

# KEEP=1 leaves the demo running; `make demo-stop` stops it. hack/demo/main.go documents the flags.
.PHONY: demo
demo: envtest ## Run the whole system on this machine (control plane, emulator, manager, samples); KEEP=1 keeps it.
	@echo "==> Compiling the demo program (hack/demo)"
	@go run ./hack/demo --setup-envtest "$(ENVTEST)" --k8s-version "$(ENVTEST_K8S_VERSION)" \
		--bin-dir "$(LOCALBIN)"$(if $(filter 1 true yes,$(KEEP)), --keep)

.PHONY: demo-stop
demo-stop: ## Stop what `make demo KEEP=1` left running.
	@go run ./hack/demo --stop

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build manager binary.
	go build -ldflags "$(LDFLAGS)" -o bin/manager ./cmd

.PHONY: run
run: manifests generate fmt vet ## Run a controller from your host.
	go run ./cmd

# If you wish to build the manager image targeting other platforms you can use the --platform flag.
# (i.e. docker build --platform linux/arm64). However, you must enable docker buildKit for it.
# More info: https://docs.docker.com/develop/develop-images/build_enhancements/
# Override BASE_IMAGE to build from another registry, e.g.
# make docker-build IMG=<img> BASE_IMAGE=docker.io/library/golang:1.26
.PHONY: docker-build
docker-build: ## Build docker image with the manager.
	$(CONTAINER_TOOL) build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push docker image with the manager.
	$(CONTAINER_TOOL) push ${IMG}

# PLATFORMS defines the target platforms for the manager image be built to provide support to multiple
# architectures. (i.e. make docker-buildx IMG=myregistry/mypoperator:0.0.1). To use this option you need to:
# - be able to use docker buildx. More info: https://docs.docker.com/build/buildx/
# - have enabled BuildKit. More info: https://docs.docker.com/develop/develop-images/build_enhancements/
# - be able to push the image to your registry (i.e. if you do not set a valid value via IMG=<myregistry/image:<tag>> then the export will fail)
# To adequately provide solutions that are compatible with multiple platforms, you should consider using this option.
PLATFORMS ?= linux/arm64,linux/amd64,linux/s390x,linux/ppc64le
.PHONY: docker-buildx
docker-buildx: ## Build and push docker image for the manager for cross-platform support
	# copy existing Dockerfile and insert --platform=${BUILDPLATFORM} into Dockerfile.cross, and preserve the original Dockerfile
	sed -e '1 s/\(^FROM\)/FROM --platform=\$$\{BUILDPLATFORM\}/; t' -e ' 1,// s//FROM --platform=\$$\{BUILDPLATFORM\}/' Dockerfile > Dockerfile.cross
	- $(CONTAINER_TOOL) buildx create --name imageshare-operator-builder
	$(CONTAINER_TOOL) buildx use imageshare-operator-builder
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --tag ${IMG} -f Dockerfile.cross .
	- $(CONTAINER_TOOL) buildx rm imageshare-operator-builder
	rm Dockerfile.cross

# INSTALLER is the file build-installer writes.
INSTALLER ?= dist/install.yaml

.PHONY: build-installer
build-installer: manifests generate installer ## Write dist/install.yaml (CRDs, RBAC, manager at IMG): make build-installer VERSION=x.y.z.

# installer sets the image in a copy of config/, so the working tree is left as it was.
.PHONY: installer
installer: kustomize ## Write INSTALLER from config/ as it is, without regenerating it first.
	@mkdir -p "$$(dirname "$(INSTALLER)")"
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	cp -R config "$$tmp/config"; \
	(cd "$$tmp/config/manager" && "$(KUSTOMIZE)" edit set image controller=${IMG}); \
	"$(KUSTOMIZE)" build "$$tmp/config/default" > "$(INSTALLER)"
	@echo "Wrote $(INSTALLER) with image ${IMG}"

##@ Helm chart

CHART_DIR = dist/chart

.PHONY: chart-sync
chart-sync: manifests ## Copy the generated CRDs and manager RBAC rules into the chart (dist/chart/files/).
	@rm -rf "$(CHART_DIR)/files/crds" && mkdir -p "$(CHART_DIR)/files/crds" "$(CHART_DIR)/files/rbac"
	@cp config/crd/bases/*.yaml "$(CHART_DIR)/files/crds/"
	@cp config/rbac/role.yaml "$(CHART_DIR)/files/rbac/manager-role.yaml"
	@echo "chart-sync: copied config/crd/bases and config/rbac/role.yaml into $(CHART_DIR)/files"

.PHONY: chart-check
chart-check: ## Fail when the chart's copy of the CRDs or RBAC rules differs from config/ (part of verify).
	@diff -r config/crd/bases "$(CHART_DIR)/files/crds" >/dev/null && \
	diff config/rbac/role.yaml "$(CHART_DIR)/files/rbac/manager-role.yaml" >/dev/null || { \
		echo "verify: $(CHART_DIR)/files is stale (CRDs or RBAC rules); run make chart-sync and commit"; exit 1; }
	@echo "verify: the chart's CRDs and RBAC rules match config/"

.PHONY: chart-package
chart-package: helm chart-check ## Package the chart as dist/imageshare-operator-$(VERSION).tgz, image tag $(VERSION).
	"$(HELM)" package "$(CHART_DIR)" --version "$(VERSION)" --app-version "$(VERSION)" --destination dist

.PHONY: test-chart
test-chart: helm envtest-assets ## Lint and render the chart, and dry-run it against a local API server.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh "$(ENVTEST)" "$(ENVTEST_K8S_VERSION)" "$(LOCALBIN)")" \
		HELM="$(HELM)" go test -count=1 ./test/chart/... -v

# The chart test installs the ServiceMonitor and PrometheusRule CRDs, generated with controller-gen from
# the prometheus-operator API module (pinned below) in a throwaway module, never written by hand.
.PHONY: chart-test-crds
chart-test-crds: controller-gen ## Regenerate test/chart/testdata/crds (ServiceMonitor, PrometheusRule).
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	pkg=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring; \
	(cd "$$tmp" && go mod init crdgen >/dev/null 2>&1 && go get "$$pkg/v1@$(PROMETHEUS_OPERATOR_VERSION)" && \
		"$(CONTROLLER_GEN)" crd:maxDescLen=0 paths="$$pkg/v1" output:crd:artifacts:config="$$tmp/out"); \
	mkdir -p test/chart/testdata/crds; \
	for kind in servicemonitors prometheusrules; do \
		{ echo "# Generated by make chart-test-crds from $$pkg $(PROMETHEUS_OPERATOR_VERSION); do not edit."; \
		  cat "$$tmp/out/monitoring.coreos.com_$$kind.yaml"; } > "test/chart/testdata/crds/monitoring.coreos.com_$$kind.yaml"; \
	done

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install CRDs into the K8s cluster specified in ~/.kube/config.
	@out="$$( "$(KUSTOMIZE)" build config/crd 2>/dev/null || true )"; \
	if [ -n "$$out" ]; then echo "$$out" | "$(KUBECTL)" apply -f -; else echo "No CRDs to install; skipping."; fi

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall CRDs from the K8s cluster specified in ~/.kube/config. Call with ignore-not-found=true to ignore resource not found errors during deletion.
	@out="$$( "$(KUSTOMIZE)" build config/crd 2>/dev/null || true )"; \
	if [ -n "$$out" ]; then echo "$$out" | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -; else echo "No CRDs to delete; skipping."; fi

.PHONY: deploy
deploy: manifests kustomize ## Deploy controller to the K8s cluster specified in ~/.kube/config.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" apply -f -

.PHONY: undeploy
undeploy: kustomize ## Undeploy controller from the K8s cluster specified in ~/.kube/config. Call with ignore-not-found=true to ignore resource not found errors during deletion.
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
KUBECTL ?= kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
ENVTEST ?= $(LOCALBIN)/setup-envtest
GOLANGCI_LINT = $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm

## Tool Versions
KUSTOMIZE_VERSION ?= v5.8.1
CONTROLLER_TOOLS_VERSION ?= v0.22.0

#ENVTEST_VERSION is the controller-runtime version to use for setup-envtest, derived from go.mod
# setup-envtest is its own module (tools/setup-envtest); its tags do not follow
# controller-runtime's, so it is pinned here.
ENVTEST_VERSION ?= v0.25.1

#ENVTEST_K8S_VERSION is the version of Kubernetes to use for setting up ENVTEST binaries (i.e. 1.31)
ENVTEST_K8S_VERSION ?= $(shell v='$(call gomodver,k8s.io/api)'; \
  [ -n "$$v" ] || { echo "Set ENVTEST_K8S_VERSION manually (k8s.io/api replace has no tag)" >&2; exit 1; }; \
  printf '%s\n' "$$v" | sed -E 's/^v?[0-9]+\.([0-9]+)\.([0-9]+).*/1.\1.\2/')

GOLANGCI_LINT_VERSION ?= v2.13.1
HELM_VERSION ?= v3.22.0
PROMETHEUS_OPERATOR_VERSION ?= v0.95.2
.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: setup-envtest
setup-envtest: envtest-assets ## Provide the binaries required for ENVTEST (alias of envtest-assets).

.PHONY: envtest
envtest: $(ENVTEST) ## Download setup-envtest locally if necessary.
$(ENVTEST): $(LOCALBIN)
	$(call go-install-tool,$(ENVTEST),sigs.k8s.io/controller-runtime/tools/setup-envtest,$(ENVTEST_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Download golangci-lint locally if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM) ## Build helm locally if necessary (from the Go module proxy).
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef

define gomodver
$(shell go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' $(1) 2>/dev/null)
endef
