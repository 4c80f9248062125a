# memhpa build targets. IMAGE is overridable: make docker-build IMAGE=registry.example/memhpa:v0.1.0
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# Cargo.toml's `license` field is an SPDX expression, which is what the OCI
# annotation wants.
LICENSE := $(shell sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
IMAGE ?= memhpa:$(VERSION)
# Where the image's source lives, for org.opencontainers.image.source: the
# origin remote when it is an https URL (a local path means nothing to a
# registry's reader), else empty. Set IMAGE_SOURCE=https://... to name it.
IMAGE_SOURCE ?= $(shell git remote get-url origin 2>/dev/null | grep '^https://')
IMAGE_REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
GNU_TARGET := x86_64-unknown-linux-gnu

# ARCH picks the static binary's CPU: amd64 (the default) or arm64, with the
# image-platform spelling Kubernetes nodes report.
ARCH ?= amd64
ifeq ($(ARCH),amd64)
MUSL_TARGET := x86_64-unknown-linux-musl
else ifeq ($(ARCH),arm64)
MUSL_TARGET := aarch64-unknown-linux-musl
# ring's C code and the final link need Debian's gcc-aarch64-linux-gnu. Set
# here, per target triple, so no other build sees them. Rust's musl target
# brings its own libc and start files, so a glibc cross gcc links it fine.
ARM64_ENV := CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc \
	AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
else
$(error ARCH=$(ARCH): use amd64 or arm64)
endif

# The container tool: docker where a Docker engine answers (a client alone is
# not enough), else buildah, else podman. CONTAINER_TOOL=... forces one.
# buildah keeps its images in vfs storage and builds with chroot isolation,
# which work as root without overlayfs or user namespaces (in a container, in
# CI); BUILDAH_STORAGE_DRIVER and BUILDAH_ISOLATION override them.
BUILDAH_STORAGE_DRIVER ?= vfs
BUILDAH_ISOLATION ?= chroot
BUILDAH := buildah --storage-driver $(BUILDAH_STORAGE_DRIVER)
ifndef CONTAINER_TOOL
CONTAINER_TOOL := $(shell if timeout 10 docker info >/dev/null 2>&1; then echo docker; \
	elif command -v buildah >/dev/null 2>&1; then echo buildah; \
	elif command -v podman >/dev/null 2>&1; then echo podman; fi)
endif
IMAGE_TAR ?= target/memhpa-$(VERSION)-$(ARCH).oci.tar
# make push sends the multi-arch manifest here; e.g.
# PUSH_DEST=oci-archive:target/memhpa-multiarch.oci.tar to try it without a
# registry. `make -n push` prints every step without running one.
PUSH_DEST ?= docker://$(IMAGE)

BUILD_ARGS := --build-arg VERSION=$(VERSION) --build-arg LICENSE=$(LICENSE) \
	--build-arg SOURCE=$(IMAGE_SOURCE) --build-arg REVISION=$(IMAGE_REVISION)

.PHONY: build test fuzz static static-path docker-build image-tar push simulate clean

build:
	cargo build --release

test:
	cargo test

simulate:
	cargo run --release -- simulate

# Every fuzz target (examples/fuzz) for FUZZ_SECONDS each, on stable Rust, in
# the dev profile so panics unwind and overflow is checked. FUZZ_SEED=N
# reproduces a run; FUZZ_TARGETS=watch,argv picks targets. Crashing inputs go
# to target/fuzz-crashes/, and the exit status is 1 if there is any.
FUZZ_SECONDS ?= 20
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) cargo run --example fuzz

# A fully static binary. musl is the real target (ring's C code needs Debian's
# musl-tools, or gcc-aarch64-linux-gnu for arm64); where the amd64 musl target
# is not installed, fall back to glibc with crt-static and say so. arm64 has no
# fallback: without its target or cross compiler it fails, naming what is
# missing.
static:
ifeq ($(ARCH),arm64)
	@rustup target list --installed 2>/dev/null | grep -qx '$(MUSL_TARGET)' || \
		{ echo "static: ARCH=arm64 needs 'rustup target add $(MUSL_TARGET)'" >&2; exit 1; }
	@command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || \
		{ echo "static: ARCH=arm64 needs aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; }
	@echo "static: building for $(MUSL_TARGET)"
	$(ARM64_ENV) cargo build --release --target $(MUSL_TARGET)
	@bin=target/$(MUSL_TARGET)/release/memhpa; \
		echo "static: $$bin is $$(stat -c %s $$bin) bytes"; \
		file $$bin 2>/dev/null || true
else
	@set -e; \
	if rustup target list --installed 2>/dev/null | grep -qx '$(MUSL_TARGET)' && command -v musl-gcc >/dev/null 2>&1; then \
		echo "static: building for $(MUSL_TARGET)"; \
		cargo build --release --target $(MUSL_TARGET); \
		bin=target/$(MUSL_TARGET)/release/memhpa; \
	else \
		echo "static: musl target or musl-gcc missing; FALLING BACK to $(GNU_TARGET) with -C target-feature=+crt-static"; \
		RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target $(GNU_TARGET); \
		bin=target/$(GNU_TARGET)/release/memhpa; \
	fi; \
	echo "static: $$bin is $$(stat -c %s $$bin) bytes"; \
	file $$bin 2>/dev/null || true; \
	ldd $$bin 2>&1 | head -n 1 || true
endif

# The static binary `make static` built last for ARCH. Expanded when a recipe
# runs, so after its prerequisites are built.
STATIC_PATH = $(if $(filter arm64,$(ARCH)),target/$(MUSL_TARGET)/release/memhpa,$(if $(wildcard target/$(MUSL_TARGET)/release/memhpa),target/$(MUSL_TARGET)/release/memhpa,target/$(GNU_TARGET)/release/memhpa))

# Prints STATIC_PATH.
static-path:
	@echo $(STATIC_PATH)

# Builds the scratch image from the static binary for ARCH. After `make
# static` the cargo step finds nothing to rebuild.
docker-build: static
	@[ -x $(STATIC_PATH) ] || { echo "docker-build: no $(STATIC_PATH); run make static ARCH=$(ARCH)" >&2; exit 1; }
	rm -rf target/image/$(ARCH) && mkdir -p target/image/$(ARCH) && cp $(STATIC_PATH) target/image/$(ARCH)/memhpa
	@case '$(CONTAINER_TOOL)' in \
	docker|buildah|podman) echo "docker-build: building $(IMAGE) for linux/$(ARCH) with $(CONTAINER_TOOL)";; \
	*) echo "docker-build: no container tool: no Docker engine answers 'docker info', and neither buildah nor podman is installed (apt-get install buildah)" >&2; exit 1;; \
	esac
ifeq ($(CONTAINER_TOOL),buildah)
	$(BUILDAH) bud --isolation $(BUILDAH_ISOLATION) \
		--platform linux/$(ARCH) $(BUILD_ARGS) -f Dockerfile.scratch -t $(IMAGE) target/image/$(ARCH)
else
	$(CONTAINER_TOOL) build --platform linux/$(ARCH) $(BUILD_ARGS) -f Dockerfile.scratch -t $(IMAGE) target/image/$(ARCH)
endif

# The image as an OCI archive, which skopeo, crane, buildah or podman can push
# to any registry: target/memhpa-VERSION-ARCH.oci.tar.
image-tar: docker-build
ifeq ($(CONTAINER_TOOL),buildah)
	$(BUILDAH) push $(IMAGE) oci-archive:$(IMAGE_TAR):$(IMAGE)
else ifeq ($(CONTAINER_TOOL),podman)
	podman push $(IMAGE) oci-archive:$(IMAGE_TAR):$(IMAGE)
else
	@echo "image-tar: docker save writes a docker archive, not OCI; use buildah or podman (CONTAINER_TOOL=buildah)" >&2; exit 1
endif
	@echo "image-tar: $(IMAGE_TAR) is $$(stat -c %s $(IMAGE_TAR)) bytes"

# A multi-arch image: the amd64 and arm64 images (IMAGE-amd64, IMAGE-arm64)
# under one manifest list (IMAGE-list locally, as IMAGE may name a one-arch
# image already), pushed to PUSH_DEST (default: the registry IMAGE names).
# Needs buildah; it builds both static binaries.
push:
	@command -v buildah >/dev/null 2>&1 || { echo "push: needs buildah for the multi-arch manifest (apt-get install buildah)" >&2; exit 1; }
	$(MAKE) docker-build ARCH=amd64 IMAGE=$(IMAGE)-amd64 CONTAINER_TOOL=buildah
	$(MAKE) docker-build ARCH=arm64 IMAGE=$(IMAGE)-arm64 CONTAINER_TOOL=buildah
	$(BUILDAH) manifest rm $(IMAGE)-list >/dev/null 2>&1 || true
	$(BUILDAH) manifest create $(IMAGE)-list
	$(BUILDAH) manifest add --os linux --arch amd64 $(IMAGE)-list $(IMAGE)-amd64
	$(BUILDAH) manifest add --os linux --arch arm64 $(IMAGE)-list $(IMAGE)-arm64
	$(BUILDAH) manifest push --all $(IMAGE)-list $(PUSH_DEST)

# Issue 12's figures: the pieces (examples/bench.rs), then the controller as a
# process (examples/bench_controller) measured on the static binary the image
# ships: a table of each target beside its figure, the growth table, how
# each figure is taken, and last one JSON line holding every figure (the
# pieces' lines included). About 3 minutes on a 2-core machine once built.
.PHONY: bench
bench:
	$(MAKE) --no-print-directory static
	cargo build --release --example bench --example bench_controller
	./target/release/examples/bench | tee target/bench-pieces.txt
	BENCH_PIECES=target/bench-pieces.txt MEMHPA_BIN=$$($(MAKE) -s --no-print-directory static-path) \
		./target/release/examples/bench_controller

clean:
	cargo clean
