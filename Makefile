# memhpa build targets. IMAGE is overridable: make docker-build IMAGE=registry.example/memhpa:v0.1.0
IMAGE ?= memhpa:$(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MUSL_TARGET := x86_64-unknown-linux-musl
GNU_TARGET := x86_64-unknown-linux-gnu

.PHONY: build test fuzz static static-path docker-build push simulate clean

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
# musl-tools); where the musl target is not installed, fall back to glibc with
# crt-static and say so.
static:
	@if rustup target list --installed 2>/dev/null | grep -qx '$(MUSL_TARGET)' && command -v musl-gcc >/dev/null 2>&1; then \
		echo "static: building for $(MUSL_TARGET)"; \
		cargo build --release --target $(MUSL_TARGET); \
	else \
		echo "static: musl target or musl-gcc missing; FALLING BACK to $(GNU_TARGET) with -C target-feature=+crt-static"; \
		RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target $(GNU_TARGET); \
	fi
	@bin=$$($(MAKE) -s static-path); \
		echo "static: $$bin is $$(stat -c %s $$bin) bytes"; \
		file $$bin 2>/dev/null || true; \
		ldd $$bin 2>&1 | head -n 1 || true

# Prints the path of the static binary `make static` built last.
static-path:
	@if [ -x target/$(MUSL_TARGET)/release/memhpa ]; then echo target/$(MUSL_TARGET)/release/memhpa; \
	else echo target/$(GNU_TARGET)/release/memhpa; fi

docker-build: static
	@bin=$$($(MAKE) -s static-path); mkdir -p target/image; cp $$bin target/image/memhpa
	docker build -f Dockerfile.scratch -t $(IMAGE) target/image

push: docker-build
	docker push $(IMAGE)

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
