#!/usr/bin/env bats
# CPU compatibility: a job is not moved to a node whose CPU lacks an instruction-set
# extension of the CPU it runs on (it may use it, and would die of SIGILL later). node2
# pretends to lack one this machine has (test-cpu-hide), as an older CPU would.

load lib/cluster

# the first of these this machine's CPU has: node2 hides it
hidden_feature() {
	local f flags
	flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
	for f in avx2 avx sse4_2 ssse3 sse3 cx16; do
		if [[ $flags == *" $f "* ]]; then
			echo "$f"
			return
		fi
	done
	echo "this CPU has none of the features the test hides" >&2
	return 1
}

setup_file() {
	require_root
	HIDDEN=$(hidden_feature)
	export HIDDEN
	cluster_up 2 --cpus 1 >/dev/null
	echo "test-cpu-hide $HIDDEN" >>"$(node_dir node2)/migrd.conf"
	cluster stop node2
	cluster start node2
	wait_until 10 sh -c "[ \"\$($CLUSTER run node1 mctl nodes --json |
		jq -r '.[] | select(.name == \"node2\") | .state')\" = alive ]"
}

teardown_file() {
	cluster_down
}

node_of() {
	on node1 mps --json | jq -r --arg g "$1" '.[] | select(.gpid == $g) | .node'
}

@test "a move to a node whose CPU lacks a feature of the source's is refused, saying which" {
	gpid=$(on node1 mrun -d -n here sleep 120)
	wait_until 5 sh -c "$CLUSTER run node1 mps --json | jq -e '.[] | select(.pid > 0)' >/dev/null"
	run on node1 mmigrate "$gpid" node2
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"node2's CPU lacks what node1's has and the job may use: $HIDDEN"* ]]
	[ "$(node_of "$gpid")" = node1 ]
	# --check says so too, and nothing else is wrong with the job
	run on node1 mmigrate --check "$gpid" node2
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"node2's CPU lacks what node1's has and the job may use: $HIDDEN"* ]]
	run on node1 mmigrate --check "$gpid"
	[ "$status" -eq 0 ]
	[ "$output" = movable ]
	on node1 mkill "$gpid"
}

@test "the other way, to a CPU with every feature, a job moves" {
	gpid=$(on node1 mrun -d -n node2 sleep 120)
	wait_until 5 sh -c "$CLUSTER run node1 mps --json | jq -e '.[] | select(.node == \"node2\" and .pid > 0)' >/dev/null"
	run on node1 mmigrate "$gpid" node1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(node_of "$gpid")" = node1 ]
	on node1 mkill "$gpid"
}

@test "the balancer never sends a job to a CPU that lacks a feature" {
	for _ in 1 2 3; do
		on node1 mrun -d -n here sh -c 'while :; do :; done' >/dev/null
	done
	# balance-residency is 3 s in test clusters: time enough for several periods beyond
	sleep 8
	spinners='[.[] | select(.cmd | contains("while"))]'
	[ "$(on node1 mps --json | jq "$spinners | map(select(.node == \"node1\")) | length")" -eq 3 ]
	[ "$(on node1 mps --json | jq "$spinners | map(.moves) | add")" -eq 0 ]
	! grep -q "balance: moving" "$(node_dir node1)/migrd.log"
}
