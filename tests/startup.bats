#!/usr/bin/env bats
# migrd's start-up checks: each problem named, non-zero exit, nothing left running.

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	BUILD=${MIGR_BUILDDIR:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
	MIGRD=$BUILD/migrd/migrd
	dir=$(mktemp -d)
	"$BUILD/cli/mctl" keygen "$dir/key"
	cat >"$dir/migrd.conf" <<-CONF
	node solo
	listen 127.0.0.1 17499
	key $dir/key
	state-dir $dir/state
	socket $dir/migrd.sock
	CONF
}

teardown() {
	rm -rf "$dir"
}

@test "a missing capability is named and migrd exits 1" {
	command -v capsh >/dev/null || skip "capsh not installed"
	run capsh --drop=cap_sys_ptrace,cap_net_admin -- -c "exec $MIGRD -f -c $dir/migrd.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"missing capabilities: cap_sys_ptrace, cap_net_admin"* ]]
	[[ $output == *"not starting"* ]]
	[ ! -e "$dir/migrd.sock" ]
}

@test "a key file others can read is refused" {
	chmod 644 "$dir/key"
	run "$MIGRD" -f -c "$dir/migrd.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"cluster key: $dir/key: readable by others (mode 0644): chmod 600 it"* ]]
}

@test "a missing key file is named" {
	rm "$dir/key"
	run "$MIGRD" -f -c "$dir/migrd.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"cluster key: $dir/key: No such file or directory"* ]]
}

@test "a criu that fails criu check is named" {
	printf '#!/bin/sh\necho "Error (criu/kerndat.c:1): no good" >&2\nexit 1\n' >"$dir/criu"
	chmod +x "$dir/criu"
	echo "criu $dir/criu" >>"$dir/migrd.conf"
	run "$MIGRD" -f -c "$dir/migrd.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"criu: \`$dir/criu check\` fails: Error (criu/kerndat.c:1): no good"* ]]
}

@test "every problem is named in one start" {
	rm "$dir/key"
	echo "criu $dir/nocriu" >>"$dir/migrd.conf"
	run "$MIGRD" -f -c "$dir/migrd.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"criu: $dir/nocriu"* ]]
	[[ $output == *"cluster key:"* ]]
}

@test "a second migrd on the same socket refuses to start" {
	"$MIGRD" -f -c "$dir/migrd.conf" 2>"$dir/first.log" &
	pid=$!
	for _ in $(seq 50); do [ -S "$dir/migrd.sock" ] && break; sleep 0.1; done
	sed -i 's/17499/17498/' "$dir/migrd.conf"
	run "$MIGRD" -f -c "$dir/migrd.conf"
	kill "$pid"
	wait "$pid" || true
	[ "$status" -eq 1 ]
	[[ $output == *"another migrd is running"* ]]
}

@test "SIGTERM stops migrd cleanly and removes its socket and pid file" {
	"$MIGRD" -f -c "$dir/migrd.conf" 2>"$dir/log" &
	pid=$!
	for _ in $(seq 50); do [ -S "$dir/migrd.sock" ] && break; sleep 0.1; done
	[ -S "$dir/migrd.sock" ]
	[ "$(cat "$dir/state/migrd.pid")" = "$pid" ]
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	[ ! -e "$dir/migrd.sock" ]
	[ ! -e "$dir/state/migrd.pid" ]
	grep -q "shutting down: SIGTERM" "$dir/log"
}

@test "without -f migrd detaches and keeps serving" {
	run "$MIGRD" -c "$dir/migrd.conf"
	[ "$status" -eq 0 ]
	for _ in $(seq 50); do [ -S "$dir/migrd.sock" ] && break; sleep 0.1; done
	pid=$(cat "$dir/state/migrd.pid")
	MIGR_SOCKET=$dir/migrd.sock run "$BUILD/cli/mctl" status
	kill -TERM "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	[[ $output == *"node         solo"* ]]
	! kill -0 "$pid" 2>/dev/null
}
