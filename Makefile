# Developer targets; each is a script in scripts/ (see README.md).
.PHONY: all deps fetch tree export check-export build passt sid test test-all \
	checkpatch each-patch demo bench asan series-diff clean distclean

# The series: 10.0 (patches/, the backport to QEMU 10.0.x) or upstream
# (patches-upstream/, on QEMU 10.2's own -netdev passt): make SERIES=upstream build.
# Unset, each target takes its default: test and test-all run both series,
# demo the upstream one, the others the 10.0 one.
SERIES ?=
export SERIES
# A part of the upstream stack (patches-upstream/STACK): UPTO=FOLDER, the
# stack up to that series, in a tree and build of its own (make test
# UPTO=2-passt-fixes); PART=FOLDER, that series alone (checkpatch)
UPTO ?=
PART ?=
export UPTO PART

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
	scripts/build-passt.sh sid
	scripts/build-passt.sh 2025
# Debian sid's QEMU (the newest upstream release) and passt, from a sid root
sid: deps
	scripts/sid-root.sh
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
# Where the two series' final passt files differ (-u: make series-diff U=-u)
series-diff:
	scripts/series-diff.sh $(U)
# Side by side throughput, latency, start-up and CPU per backend, then the
# interleaved pairs against upstream QEMU as released (half an hour). Ours
# is the upstream series unless SERIES says otherwise (UPTO: the stack up
# to a series); arguments for
# bench/run.py in BENCH_ARGS, e.g. the pairs only:
#   make bench BENCH_ARGS='--pairs upstream'
BENCH_SERIES = $(or $(SERIES),upstream)
BENCH_ARGS ?=
bench:
	SERIES=$(BENCH_SERIES) scripts/setup.sh
	scripts/bench-deps.sh
	scripts/build-upstream-unmodified.sh
	bash guest/build-guest.sh
	SERIES=$(BENCH_SERIES) python3 bench/run.py $(BENCH_ARGS)
# ASAN/UBSAN build (build/qemu-asan), qtests and fuzz test on it (not in test)
asan: build
	scripts/asan.sh
# Keeps downloads and the work tree (which may hold unexported commits).
clean:
	rm -rf build/qemu-build build/each-patch-build build/test-logs \
	    build/qemu-upstream-build build/each-patch-upstream-build \
	    build/qemu-upstream-unmodified-build \
	    build/qemu-upstream-upto-*-build \
	    build/qemu-asan build/asan-logs \
	    build/*-build.log \
	    build/each-patch-*.log
	for t in build/qemu build/qemu-upstream build/qemu-upstream-upto-*; do \
	    if [ -d $$t/.git ]; then git -C $$t worktree prune; fi; done
	rm -rf build/each-patch build/each-patch-upstream \
	    build/qemu-upstream-unmodified
distclean:
	SERIES=10.0 scripts/check-export.sh
	if [ -d build/qemu-upstream/.git ]; then SERIES=upstream scripts/check-export.sh; fi
	rm -rf build
