# Developer targets; each is a script in scripts/ (see README.md).
.PHONY: all deps fetch tree export check-export build passt test test-all \
	checkpatch each-patch demo bench asan clean distclean

all: build

deps:
	scripts/deps.sh
fetch: deps
	scripts/fetch-qemu.sh
tree: fetch
	scripts/mktree.sh
export:
	scripts/export.sh
check-export:
	scripts/check-export.sh
passt: deps
	scripts/build-passt.sh newest
	scripts/build-passt.sh 2025
build:
	scripts/setup.sh
test:
	scripts/test.sh
test-all:
	scripts/test.sh --each-patch
checkpatch:
	scripts/checkpatch.sh
each-patch:
	scripts/each-patch.sh
demo:
	scripts/demo.sh
# Side by side throughput, latency, start-up and CPU per backend (minutes)
bench: build
	scripts/bench-deps.sh
	bash guest/build-guest.sh
	python3 bench/run.py
# ASAN/UBSAN build (build/qemu-asan), qtests and fuzz test on it (not in test)
asan: build
	scripts/asan.sh
# Keeps downloads and the work tree (which may hold unexported commits).
clean:
	rm -rf build/qemu-build build/each-patch-build build/test-logs \
	    build/qemu-asan build/asan-logs build/qemu-build-nopasst \
	    build/qemu-build-novirtio build/*-build.log \
	    build/each-patch-*.log
	if [ -d build/qemu/.git ]; then git -C build/qemu worktree prune; fi
	rm -rf build/each-patch
distclean:
	scripts/check-export.sh
	rm -rf build
