#!/usr/bin/env bats
# configure names each missing dependency and says how to get it.

setup_file() {
	export SRC=${MIGR_SRCDIR:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
	[ -x "$SRC/configure" ] || skip "no configure script (run autoreconf -fi)"
}

setup() {
	# A clean copy of what configure reads: an already configured source dir refuses
	# out-of-tree builds.
	work=$(mktemp -d)
	cp -a "$SRC/configure" "$SRC/Makefile.in" "$SRC/config.h.in" "$SRC/build-aux" "$work/"
	mkdir -p "$work/libmigr"
	cp -a "$SRC/libmigr/migr.h" "$SRC/libmigr/libmigr.pc.in" "$work/libmigr/"
	# pkg-config files of the real dependencies, to hide one at a time
	pcdir=$(mktemp -d)
	for pc in libnl-3.0 libnl-genl-3.0 libcap libsodium libcrypto ncursesw; do
		ln -s "$(pkg-config --variable=pcfiledir "$pc")/$pc.pc" "$pcdir/$pc.pc"
	done
}

teardown() {
	rm -rf "$work" "$pcdir"
}

configure_with() {
	(cd "$work" && PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_PATH= ./configure -q "$@" 2>&1)
}

@test "configure passes with every dependency present" {
	run configure_with
	[ "$status" -eq 0 ]
}

@test "configure names a missing libnl-3 and the package to install" {
	rm "$pcdir/libnl-3.0.pc" "$pcdir/libnl-genl-3.0.pc"
	run configure_with
	[ "$status" -ne 0 ]
	[[ $output == *"libnl-3 not found"* ]]
	[[ $output == *"apt-get install libnl-3-dev libnl-genl-3-dev"* ]]
}

@test "configure names a missing libcap" {
	rm "$pcdir/libcap.pc"
	run configure_with
	[ "$status" -ne 0 ]
	[[ $output == *"libcap not found"*"libcap-dev"* ]]
}

@test "configure names a missing libcrypto (OpenSSL) and the package to install" {
	rm "$pcdir/libcrypto.pc"
	run configure_with
	[ "$status" -ne 0 ]
	[[ $output == *"libcrypto not found"*"libssl-dev"* ]]
}

@test "configure names a missing libsodium" {
	rm "$pcdir/libsodium.pc"
	run configure_with
	[ "$status" -ne 0 ]
	[[ $output == *"libsodium not found"*"libsodium-dev"* ]]
}

@test "configure names a missing ncursesw (mmon's screen) and the package to install" {
	rm "$pcdir/ncursesw.pc"
	run configure_with
	[ "$status" -ne 0 ]
	[[ $output == *"ncursesw not found"*"apt-get install libncurses-dev"* ]]
}

@test "configure names a missing criu and how to get one" {
	run configure_with --with-criu=/nonexistent/criu
	[ "$status" -ne 0 ]
	[[ $output == *"criu not found at /nonexistent/criu"*"scripts/bootstrap"* ]]
}

@test "configure refuses a criu older than 4" {
	printf '#!/bin/sh\necho "Version: 3.17.1"\n' >"$work/oldcriu"
	chmod +x "$work/oldcriu"
	run configure_with --with-criu="$work/oldcriu"
	[ "$status" -ne 0 ]
	[[ $output == *"version 3.17.1; migr needs CRIU >= 4"* ]]
}

@test "configure refuses a criu that fails criu check" {
	[ "$(id -u)" -eq 0 ] || skip "criu check runs only as root"
	printf '#!/bin/sh\n[ "$1" = --version ] && echo "Version: 4.1.1" && exit 0\nexit 1\n' >"$work/badcriu"
	chmod +x "$work/badcriu"
	run configure_with --with-criu="$work/badcriu"
	[ "$status" -ne 0 ]
	[[ $output == *"badcriu check\` fails on this machine"* ]]
}
