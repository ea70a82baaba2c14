# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
#   make            build .output/portlife
#   make deps       install the build and test dependencies (Debian/Ubuntu, root)
#   make run        install what is missing, build, trace until Ctrl-C (root)
#   make test       install what is missing, build, unit + live + VM tests (root)
#   make vmtest     only the VM tests (qemu, Debian kernels 5.10, 6.1, 6.12;
#                   VMTEST_PLAN picks the modes of each: tests/vm/vmtest.sh)
#   make fuzz       fuzz the trace reader for FUZZ_TIME seconds (default 20)
#   make install    binary, portlife(8), bash completion, systemd unit into
#                   DESTDIR/PREFIX
#   make uninstall  remove them again (same PREFIX and DESTDIR)
#   make image-check  build deploy/Containerfile's stages with mmdebstrap and
#                   chroot (no container runtime needed) and run the image as
#                   the DaemonSet does (root; downloads ~300 MB of packages)
#   make bench      throughput and cost against no tracer and the peers (root;
#                   BENCH_ROUNDS, BENCH_COUNT, BENCH_ARGS, BENCH_SMOKE: bench/run.sh)
#   make bench-vm   the connect storm in fentry, kprobe and tracepoint modes inside
#                   Debian's 6.1 and 6.12 guests (qemu TCG: indicative; bench/vm.sh)
#   make bench-pipeline  the userspace side alone: events/s, RSS per lease, report
#   make bench-twsnap    cost of TIME_WAIT snapshots with 1k, 10k, 28k sockets
#   make V=1        show full commands
OUTPUT ?= .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc
PKG_CONFIG ?= pkg-config
ARCH ?= $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

# CFLAGS is the caller's (make CFLAGS=-O0 keeps working); what the code
# itself needs is in PL_CFLAGS, which no command line replaces.
CFLAGS ?= -g -O2
PL_CFLAGS := -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE
INCLUDES := -I$(OUTPUT) -Ibpf -Iuser
# Libraries from pkg-config, so a libbpf in /usr/local (or a distribution
# that splits ncurses differently) needs no edit here.
PKGS := libbpf libelf zlib ncursesw
# STATIC=1: self-contained binaries for the VM tests (busybox initramfs).
ifeq ($(STATIC),1)
LDFLAGS += -static
PKG_STATIC := --static
endif
PKG_LIBS = $(shell $(PKG_CONFIG) $(PKG_STATIC) --libs $(PKGS))
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
# -lm: at -O0 the compiler calls ceil() instead of inlining it
LDLIBS = $(PKG_LIBS) -lm
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function

# The version `portlife --version` prints: `make VERSION=x`, else the VERSION
# file (a release tarball has no .git), else git describe, else "unknown".
# safe.directory: `sudo make install` in a user's clone must see the same
# version as the user's build did, or it would rebuild as root.
ifneq ($(origin VERSION),command line)
VERSION := $(or $(shell head -n 1 VERSION 2>/dev/null),$(if $(wildcard .git),$(shell \
	git -c safe.directory='*' describe --tags --always --dirty 2>/dev/null)),unknown)
endif
ifneq ($(words $(VERSION)),1)
$(error VERSION '$(VERSION)' must be one word)
endif

# One skeleton per BPF object: the tracer's programs (portlife) and the
# socket-table iterators (iters), which ports/who load alone.
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))
# everything but main.c is linked into the unit tests too
LIB_SRCS := $(filter-out user/main.c,$(USER_SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/main.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
LIVE_BINS := $(OUTPUT)/tests/livetest $(OUTPUT)/tests/clockshim.so
# the live tests: the runner (harness.c) and one file per feature
LIVE_SRCS := $(wildcard tests/live/*.c)
LIVE_OBJS := $(patsubst tests/live/%.c,$(OUTPUT)/tests/live/%.o,$(LIVE_SRCS))

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean test run deps vmtest fuzz bench bench-vm bench-pipeline bench-twsnap print-version install uninstall image-check FORCE

all: $(OUTPUT)/portlife

$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/tests/live:
	$(Q)mkdir -p $@

# A checkout for another architecture: say what to do instead of a clang error.
$(VMLINUX):
	@echo "make: no $(VMLINUX) for ARCH=$(ARCH): generate it on a $(ARCH) kernel with BTF:" >&2
	@echo "  mkdir -p $(dir $(VMLINUX)) && bpftool btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)" >&2
	@exit 1

# One BPF object from its source ($<), with BPF_DEFS set per target.
define bpf_object
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(BPF_DEFS) -I$(dir $(VMLINUX)) -Ibpf -MMD -MP -MT $@ -MF $@.d -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp
endef

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(OUTPUT)
	$(bpf_object)

# The tracer once more for kernels before 5.12, which refuse a program with
# an atomic fetch instruction anywhere in it: its lease ids come from a map
# claim instead (bpf/events.bpf.h, lease_id_new). The loader probes which of
# the two the kernel takes.
SKELS += $(OUTPUT)/portlife_nofetch.skel.h
$(OUTPUT)/portlife_nofetch.bpf.o: BPF_DEFS := -DPL_NO_FETCH
$(OUTPUT)/portlife_nofetch.bpf.o: bpf/portlife.bpf.c $(VMLINUX) | $(OUTPUT)
	$(bpf_object)

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# The version stamp is rewritten only when the version changes, so only a new
# version rebuilds the objects that print it. The check keeps it a C string.
$(OUTPUT)/version: export PL_VERSION := $(VERSION)
$(OUTPUT)/version: FORCE | $(OUTPUT)
	$(Q)case "$$PL_VERSION" in *[!A-Za-z0-9._+~-]*) \
		echo "VERSION '$$PL_VERSION': only letters, digits and ._+~- please" >&2; exit 1;; esac
	$(Q)if [ "$$(cat $@ 2>/dev/null)" != "$$PL_VERSION" ]; then \
		printf '%s\n' "$$PL_VERSION" > $@; fi

VERSION_OBJS := $(OUTPUT)/env.o $(OUTPUT)/main.o
$(VERSION_OBJS): $(OUTPUT)/version
$(VERSION_OBJS): VERSION_FLAGS := -DPORTLIFE_VERSION='"$(VERSION)"'

FORCE:

print-version:
	@echo $(VERSION)

# Every user object may include a skeleton; -MMD tracks the rest.
$(OUTPUT)/%.o: user/%.c $(SKELS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(INCLUDES) $(VERSION_FLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/portlife: $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) $(INCLUDES) -MMD -MP $< $(LIB_OBJS) \
		$(shell $(PKG_CONFIG) --libs cmocka) $(LDLIBS) -o $@

# livetest links no libbpf (nor anything of user/), so it runs in a minimal VM.
# Each test registers itself in an ELF section (tests/live/harness.h): a new
# tests/live/*.c is picked up by the wildcard, nothing to list here.
$(OUTPUT)/tests/live/%.o: tests/live/%.c | $(OUTPUT)/tests/live
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tests/livetest: $(LIVE_OBJS) | $(OUTPUT)/tests
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) $(LDFLAGS) $^ -o $@

# Preloaded into portlife by the live test clock_step: a wall-clock step
# without touching the host's clock. A host-only (views) test: never static.
$(OUTPUT)/tests/clockshim.so: tests/shim/clockshim.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) -shared -fPIC -O2 -Wall $< -o $@ -ldl

# The userspace pipeline alone (synthetic events, no kernel): events/s per
# core, RSS per live lease, `report` of a 1M-event trace.
$(OUTPUT)/pipebench: bench/pipebench.c $(LIB_OBJS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) $(INCLUDES) -MMD -MP $< $(LIB_OBJS) $(LDLIBS) -o $@

bench-pipeline: $(OUTPUT)/pipebench $(OUTPUT)/portlife
	$(Q)$(OUTPUT)/pipebench $(PIPEBENCH_ARGS)

# Cost of TIME_WAIT snapshots (tracepoint mode) with 1k, 10k, 28k sockets.
$(OUTPUT)/mktw: bench/mktw.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) $< -o $@

bench-twsnap: $(OUTPUT)/mktw $(OUTPUT)/portlife
	$(Q)flock /tmp/portlife-live.lock bench/twsnap.sh $(OUTPUT)/portlife $(TWSNAP_COUNTS)

# The one command that runs every test (installing what is missing first);
# prints "N passed, N failed, N skipped" last.
test: deps
	$(Q)$(MAKE) --no-print-directory $(OUTPUT)/portlife $(UNIT_BINS) $(LIVE_BINS) \
		$(OUTPUT)/fuzz_trace $(OUTPUT)/fuzz-seed $(OUTPUT)/mkcrafted $(OUTPUT)/loadgen \
		$(OUTPUT)/bpfstats
	$(Q)tests/run_all.sh $(UNIT_BINS)

# libFuzzer target for the report path (clang); `make fuzz` runs it briefly.
# Built from every library source, instrumented: whatever report reaches is fuzzed.
FUZZ_SRCS := tests/fuzz/fuzz_trace.c $(LIB_SRCS)
FUZZ_TIME ?= 20
$(OUTPUT)/fuzz_trace: $(FUZZ_SRCS) $(wildcard user/*.h) bpf/portlife.h $(SKELS) | $(OUTPUT)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(PL_CFLAGS) $(PKG_CFLAGS) $(INCLUDES) $(FUZZ_SRCS) $(LDLIBS) -o $@

$(OUTPUT)/fuzz-seed: tests/fuzz/mkseed.c user/tracefile.c user/crc32.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) -Ibpf -Iuser $^ -lz -o $@

# Checksum-valid traces of hostile shapes for report's regression tests:
# .output/mkcrafted SHAPE FILE [N] (tests/fuzz/mkcrafted.c lists the shapes).
$(OUTPUT)/mkcrafted: tests/fuzz/mkcrafted.c user/tracefile.c user/crc32.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) -Ibpf -Iuser $^ -lz -o $@

# Seeds: the plain trace, and small ones of hostile shapes; tests/fuzz/regress
# holds inputs that once crashed it, read (never written) on every run. Not lease-jump:
# each jump costs the lease table a 2^20 loop, which would slow every input.
FUZZ_CRAFTED := same-cookie:10 many-comms:20 hostile-header:1 formula-comm:1 hostile-pods:2
fuzz: $(OUTPUT)/fuzz_trace $(OUTPUT)/fuzz-seed $(OUTPUT)/mkcrafted
	$(Q)mkdir -p $(OUTPUT)/fuzz-corpus
	$(Q)$(OUTPUT)/fuzz-seed $(OUTPUT)/fuzz-corpus/seed.trace
	$(Q)for s in $(FUZZ_CRAFTED); do $(OUTPUT)/mkcrafted $${s%:*} \
		$(OUTPUT)/fuzz-corpus/$${s%:*}.trace $${s#*:} || exit 1; done
	$(Q)$(OUTPUT)/fuzz_trace -max_total_time=$(FUZZ_TIME) -seed=1 -print_final_stats=1 \
		-artifact_prefix=$(OUTPUT)/ $(OUTPUT)/fuzz-corpus tests/fuzz/regress 2>&1 | tail -n 12

# The benchmark's load generator (bench/loadgen.c).
# LDFLAGS: STATIC=1 makes it static too, for the VM tests' initramfs.
$(OUTPUT)/loadgen: bench/loadgen.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(CFLAGS) $(LDFLAGS) -MMD -MP $< -lpthread -o $@

# The benchmarks' reader of a tracer's BPF statistics (bench/bpfstats.c).
$(OUTPUT)/bpfstats: bench/bpfstats.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PL_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -MMD -MP $< $(LDLIBS) -o $@

# The peers are optional: installed when apt can, skipped by the runner when not.
# One BPF tracer at a time on this host: the runner holds the live-test lock.
BENCH_PEERS := libbpf-tools bpftrace
PL_LOCK ?= /tmp/portlife-live.lock
bench: deps
	$(Q)$(MAKE) --no-print-directory $(OUTPUT)/portlife $(OUTPUT)/loadgen $(OUTPUT)/bpfstats
	$(Q)if ! dpkg -s $(BENCH_PEERS) >/dev/null 2>&1 && command -v apt-get >/dev/null; then \
		echo "  DEPS     installing the peers: $(BENCH_PEERS)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(BENCH_PEERS) >/dev/null 2>&1 || echo "  DEPS     peers not installed: skipped"; fi
	$(Q)flock $(PL_LOCK) bench/run.sh

# deploy/Containerfile without a container runtime (tests/deploy/image.sh):
# not in make test, which downloads only the few packages of the unit's test.
image-check: deps
	$(Q)$(MAKE) --no-print-directory $(OUTPUT)/portlife
	$(Q)tests/deploy/image.sh

# The exact modes' cost where they run: the connect storm in Debian's guests
# (tests/vm/vmtest.sh builds what the guest needs). Not part of `make test`.
bench-vm: deps
	$(Q)flock $(PL_LOCK) bench/vm.sh

# The live tests on Debian's 5.10, 6.1 and 6.12 kernels in qemu, each mode on two.
vmtest: deps
	$(Q)tests/vm/vmtest.sh

# Install what is missing, build, and trace until Ctrl-C.
run: deps
	$(Q)$(MAKE) --no-print-directory $(OUTPUT)/portlife
	$(Q)$(OUTPUT)/portlife $(ARGS)

# Debian 12 / Ubuntu package names. Idempotent; needs root.
# The deploy tests (tests/deploy/check.sh): systemd-analyze, strace, pgrep,
# Debian's python3 with yaml and the Kubernetes API models, and mmdebstrap
# and systemd-nspawn to start the unit under systemd in a container.
DEPS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev \
	gcc make pkg-config iproute2 jq libncurses-dev tmux prometheus python3 \
	groff-base nftables systemd strace procps python3-yaml python3-kubernetes \
	mmdebstrap systemd-container
deps:
	$(Q)if dpkg -s $(DEPS) >/dev/null 2>&1; then :; \
	elif ! command -v apt-get >/dev/null; then \
		echo "  DEPS     not Debian/Ubuntu: install by hand: $(DEPS)"; \
	else echo "  DEPS     installing: $(DEPS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $(DEPS) >/dev/null; fi

# make install [PREFIX=/usr/local] [DESTDIR=staging]: installs what is built,
# building only what is out of date (so `sudo make install` after `make`
# compiles nothing as root).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# systemd searches /usr/local/lib/systemd/system too: the unit follows PREFIX.
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL ?= install
INSTALLED := $(DESTDIR)$(BINDIR)/portlife $(DESTDIR)$(MANDIR)/man8/portlife.8 \
	$(DESTDIR)$(BASHCOMPDIR)/portlife $(DESTDIR)$(UNITDIR)/portlife.service

install: $(OUTPUT)/portlife
	$(call msg,INSTALL,$(DESTDIR)$(BINDIR)/portlife)
	$(call msg,INSTALL,$(DESTDIR)$(MANDIR)/man8/portlife.8)
	$(call msg,INSTALL,$(DESTDIR)$(BASHCOMPDIR)/portlife)
	$(call msg,INSTALL,$(DESTDIR)$(UNITDIR)/portlife.service)
	$(Q)$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man8" "$(DESTDIR)$(BASHCOMPDIR)" \
		"$(DESTDIR)$(UNITDIR)"
	$(Q)$(INSTALL) -m 0755 $(OUTPUT)/portlife "$(DESTDIR)$(BINDIR)/portlife"
	$(Q)$(INSTALL) -m 0644 doc/portlife.8 "$(DESTDIR)$(MANDIR)/man8/portlife.8"
	$(Q)$(INSTALL) -m 0644 completion/portlife.bash "$(DESTDIR)$(BASHCOMPDIR)/portlife"
	$(Q)sed 's|@BINDIR@|$(BINDIR)|g' deploy/systemd/portlife.service.in > "$(DESTDIR)$(UNITDIR)/portlife.service.tmp"
	$(Q)$(INSTALL) -m 0644 "$(DESTDIR)$(UNITDIR)/portlife.service.tmp" "$(DESTDIR)$(UNITDIR)/portlife.service"
	$(Q)rm -f "$(DESTDIR)$(UNITDIR)/portlife.service.tmp"

# The files only: the directories may hold other programs' files.
uninstall:
	$(call msg,REMOVE,$(INSTALLED))
	$(Q)rm -f $(foreach f,$(INSTALLED),"$(f)")

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

# Not tests/livetest.d: an older build's, it names tests/live/livetest.c, since
# split into tests/live/*.c, and make would stop at the missing file.
-include $(filter-out $(OUTPUT)/tests/livetest.d, \
	$(wildcard $(OUTPUT)/*.d $(OUTPUT)/tests/*.d $(OUTPUT)/tests/live/*.d))
