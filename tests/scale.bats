#!/usr/bin/env bats
# Gossip at sixteen nodes (issue 16): SWIM's probes find a killed migrd in a few periods
# whatever the cluster's size, every node hears of it, nobody else is taken for dead, and
# the restarted node is back on all of them and learns all of them.
# Test clusters: gossip-period 200 ms, suspect-timeout 1.5 s, dead-timeout 3 s.

load lib/cluster

N=16

setup_file() {
	require_root
	cluster_up "$N" --no-balance
}

teardown_file() {
	cluster_down
}

state_of() {
	on "$1" mctl nodes --json | jq -r --arg n "$2" '.[] | select(.name == $n) | .state'
}

alive_count() {
	on "$1" mctl nodes --json | jq '[.[] | select(.state == "alive")] | length'
}

# all_see NODE STATE: every node but NODE lists NODE in STATE
all_see() {
	local i
	for i in $(seq "$N"); do
		[ "node$i" != "$1" ] || continue
		[ "$(state_of "node$i" "$1")" = "$2" ] || return 1
	done
}

@test "16 nodes: every node lists all sixteen alive" {
	for i in $(seq "$N"); do
		wait_until 10 sh -c "[ \"\$($CLUSTER run node$i mctl nodes --json |
			jq '[.[] | select(.state == \"alive\")] | length')\" = $N ]"
	done
}

@test "16 nodes: a killed migrd is dead on all fifteen others in a few periods, back after restart" {
	cluster stop node9 --kill
	t0=$SECONDS
	# the suspicion timeout is dead-timeout (3 s) at this size; the probe that finds the
	# silence and the news reaching everyone take a few 200 ms periods more
	wait_until 8 all_see node9 dead
	echo "# dead on all 15 after about $((SECONDS - t0)) s" >&3
	# nobody else was taken for dead meanwhile
	for i in $(seq "$N"); do
		[ "$i" -ne 9 ] || continue
		run grep -E "node([0-9]+): [a-z]+ -> dead" "$(node_dir "node$i")/migrd.log"
		if [ -n "$output" ]; then
			echo "$output" | grep -v "node9:" && return 1
		fi
	done
	cluster start node9
	wait_until 8 all_see node9 alive
	# and the restarted node learns the whole cluster again through its seed
	wait_until 8 sh -c "[ \"\$($CLUSTER run node9 mctl nodes --json |
		jq '[.[] | select(.state == \"alive\")] | length')\" = $N ]"
	run alive_count node1
	[ "$output" = "$N" ]
}
