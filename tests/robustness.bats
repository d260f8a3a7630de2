#!/usr/bin/env bats
# Hostile input to the peer port and the control socket: the connection is closed and
# logged, the daemon stays up, keeps answering, and the cluster stays whole.

load lib/cluster

setup_file() {
	require_root
	cluster_up 3 --no-balance
}

teardown_file() {
	cluster_down
}

poke() {
	on node2 "$MIGR_BUILDDIR/tests/tools/peerpoke" "$@"
}

# node1's migrd is still the one we started, answers, and sees the whole cluster
node1_healthy() {
	kill -0 "$(cat "$(node_dir node1)/migrd.pid")"
	run on node1 mctl nodes --json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq '[.[] | select(.state == "alive")] | length')" -eq 3 ]
}

@test "random bytes to the peer port: closed, logged, daemon fine" {
	run poke random 10.77.0.1 7470
	[ "$output" = closed ]
	grep -q "protocol version mismatch" "$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "an oversized length: closed before anything is allocated" {
	run poke oversize 10.77.0.1 7470
	[ "$output" = closed ]
	grep -q "message too big" "$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "a truncated frame, wrong version, unknown type: each closed" {
	run poke truncated 10.77.0.1 7470
	[ "$output" = closed ]
	run poke badversion 10.77.0.1 7470
	[ "$output" = closed ]
	run poke badtype 10.77.0.1 7470
	[ "$output" = closed ]
	grep -q "protocol error" "$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "a replayed handshake is refused" {
	run poke replay-handshake 10.77.0.1 7470 "$(cluster_key)"
	[ "$output" = closed ]
	grep -q "handshake: bad key, refused" "$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "a replayed record is refused" {
	run poke replay-record 10.77.0.1 7470 "$(cluster_key)"
	[ "$output" = closed ]
	grep -q "record fails authentication" "$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "a malformed question about files (a path not absolute) is refused" {
	run poke bad-files 10.77.0.1 7470 "$(cluster_key)"
	[ "$output" = closed ]
	grep -q "bad migrate-files message" "$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "connections that never speak are closed by the handshake timeout" {
	run poke hold 10.77.0.1 7470 20
	# the poke waits 3 s per connection at most; the timeout is 3 s
	[[ $output == *"of 20 closed"* ]]
	# logged one by one while few, else in the summary of the next 10 s
	wait_until 15 grep -Eq "handshake timed out|[1-9][0-9]* failed or timed-out handshakes" \
		"$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "garbage and oversized frames on the control socket: closed, logged, daemon fine" {
	sock=$(node_dir node1)/migrd.sock
	run "$MIGR_BUILDDIR/tests/tools/peerpoke" ctl-garbage "$sock"
	[ "$output" = closed ]
	run "$MIGR_BUILDDIR/tests/tools/peerpoke" ctl-oversize "$sock"
	[ "$output" = closed ]
	grep -q "control: .*bad frame" "$(node_dir node1)/migrd.log"
	node1_healthy
}

@test "a burst of hostile connections leaves the cluster whole" {
	for _ in $(seq 20); do
		poke random 10.77.0.1 7470 >/dev/null &
	done
	wait
	node1_healthy
	run on node3 mctl nodes --json
	[ "$(echo "$output" | jq '[.[] | select(.state == "alive")] | length')" -eq 3 ]
}
