#!/usr/bin/env bats
# migrd -n: parses migrd.conf, prints the effective configuration and exits. Each file
# tests/golden/NAME.conf has its expected output and exit status in NAME.out; every
# error names the file, the line and what is wrong.

setup() {
	BUILD=${MIGR_BUILDDIR:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
	MIGRD=$BUILD/migrd/migrd
	GOLDEN=$BATS_TEST_DIRNAME/golden
}

# check_mode NAME: migrd -n on NAME.conf, run from the golden dir so paths in messages
# are as written in NAME.out; stdout and stderr together, then "exit N"
check_mode() {
	local rc=0
	(cd "$GOLDEN" && "$MIGRD" -n -c "$1.conf" 2>&1) || rc=$?
	echo "exit $rc"
}

@test "every golden config gives exactly its expected output and exit status" {
	n=0
	for conf in "$GOLDEN"/*.conf; do
		name=$(basename "$conf" .conf)
		[ "$name" = minimal ] && continue	# machine-dependent defaults: own test
		diff -u "$GOLDEN/$name.out" <(check_mode "$name")
		n=$((n + 1))
	done
	[ "$n" -ge 15 ]
}

@test "defaults fill what a minimal config leaves out" {
	criu=$(sed -n 's/^#define MIGR_CRIU_PATH "\(.*\)"$/\1/p' "$BUILD/config.h")
	[ -n "$criu" ]
	diff -u <(sed -e "s|@CRIU@|$criu|" -e "s|@NPROC@|$(nproc)|" "$GOLDEN/minimal.out") \
		<(check_mode minimal)
}

@test "what -n prints is itself a config that prints the same" {
	printed=$BATS_TEST_TMPDIR/printed.conf
	(cd "$GOLDEN" && "$MIGRD" -n -c full.conf) >"$printed"
	run "$MIGRD" -n -c "$printed"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$printed")" ]
}

@test "every error is a single line" {
	for out in "$GOLDEN"/bad-*.out "$GOLDEN"/missing-*.out; do
		[ "$(wc -l <"$out")" -eq 2 ]	# the error and "exit 1"
		[ "$(tail -n1 "$out")" = "exit 1" ]
		grep -q '^migrd: [a-z-]*\.conf' "$out"
	done
}

@test "a missing config file is named, with the reason" {
	run "$MIGRD" -n -c /nonexistent/migrd.conf
	[ "$status" -eq 1 ]
	[ "$output" = "migrd: /nonexistent/migrd.conf: No such file or directory" ]
}

@test "an overlong line is refused" {
	printf 'node %s\n' "$(head -c 2000 /dev/zero | tr '\0' a)" >"$BATS_TEST_TMPDIR/long.conf"
	run "$MIGRD" -n -c "$BATS_TEST_TMPDIR/long.conf"
	[ "$status" -eq 1 ]
	[ "$output" = "migrd: $BATS_TEST_TMPDIR/long.conf:1: line longer than 1024 bytes" ]
}

@test "an unknown option gets the usage and exit 2" {
	run "$MIGRD" --bogus
	[ "$status" -eq 2 ]
	[[ $output == *"usage: migrd"* ]]
}
