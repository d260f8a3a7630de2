#!/usr/bin/env bats
# A real cluster: three migrd in three network namespaces, gossiping over veth.

load lib/cluster

setup_file() {
	require_root
	cluster_up 3 --no-balance
	user_tools_install
}

teardown_file() {
	cluster_down
	user_tools_remove
}

# alive_on NODE: the names NODE lists as alive, sorted, on one line
alive_on() {
	on "$1" mctl nodes --json | jq -r '[.[] | select(.state == "alive") | .name] | sort | join(" ")'
}

state_on() {
	on "$1" mctl nodes --json | jq -r --arg n "$2" '.[] | select(.name == $n) | .state'
}

@test "the cluster forms: every node lists every node alive" {
	for n in node1 node2 node3; do
		run alive_on "$n"
		[ "$output" = "node1 node2 node3" ]
	done
}

@test "mctl nodes shows the contract's fields and marks the answering node" {
	run on node2 mctl nodes --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e 'length == 3 and all(.[]; has("name") and has("addr") and
		has("state") and has("load") and has("cpus") and has("mem_free_kb") and has("jobs"))'
	echo "$output" | jq -e '[.[] | select(.self)] | length == 1 and .[0].name == "node2"'
	echo "$output" | jq -e '.[] | select(.name == "node3") | .addr == "10.77.0.3"'
	run on node2 mctl nodes
	[[ ${lines[0]} == NAME*ADDR*STATE*LOAD*CPUS*MEM_FREE_KB*JOBS* ]]
	[[ $output == *"node2*"* ]]
}

@test "load comes from the kernel and spreads: a busy node2 shows load on node1" {
	# two CPU burners in node2's cgroup: runnable tasks per CPU of node2's capacity
	cg=/sys/fs/cgroup/cpu/migr-cluster/node2
	sh -c 'while :; do :; done' &
	b1=$!
	sh -c 'while :; do :; done' &
	b2=$!
	echo "$b1" >"$cg/cgroup.procs"
	echo "$b2" >"$cg/cgroup.procs"
	ok=0
	wait_until 10 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mctl nodes --json |
		jq '.[] | select(.name == \"node2\") | .load >= 0.5')\" = true ]" && ok=1
	kill "$b1" "$b2"
	wait "$b1" "$b2" 2>/dev/null || true
	[ "$ok" -eq 1 ]
	# and it falls again once they are gone
	wait_until 10 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mctl nodes --json |
		jq '.[] | select(.name == \"node2\") | .load < 0.2')\" = true ]"
}

@test "mctl status describes the node's daemon" {
	run on node1 mctl status --json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.node == "node1" and .nodes_alive == 3 and .nodes_total == 3
		and .pid > 0 and .rss_kb > 0 and .cpus > 0'
	run on node1 mctl status
	[[ $output == *"3 of 3 nodes alive"* ]]
}

@test "a killed migrd is dead on all others within the timeout, and alive again after a restart" {
	inc_before=$(on node1 mctl nodes --json | jq '.[] | select(.name == "node3") | .incarnation')
	cluster stop node3 --kill
	# dead-timeout is 3 s in test clusters; allow a few periods more
	wait_until 6 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = dead ]"
	wait_until 2 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node2 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = dead ]"
	grep -q "node3: suspect -> dead" "$(node_dir node1)/migrd.log"
	cluster start node3
	wait_until 6 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = alive ]"
	# node2 hears it by gossip, a period or two after node1 may have
	wait_until 3 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node2 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = alive ]"
	inc_after=$(on node1 mctl nodes --json | jq '.[] | select(.name == "node3") | .incarnation')
	[ "$inc_after" -gt "$inc_before" ]
	# and the restarted node learns the whole cluster again
	wait_until 6 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node3 mctl nodes --json |
		jq '[.[] | select(.state == \"alive\")] | length')\" = 3 ]"
}

@test "a node with the wrong key is refused and the refusal logged" {
	d=$(mktemp -d)
	"$MIGR_BUILDDIR/cli/mctl" keygen "$d/other.key"
	cat >"$d/rogue.conf" <<-CONF
	node rogue
	listen 10.77.0.3 7999
	peer 10.77.0.1 7470
	peer 10.77.0.2 7470
	key $d/other.key
	state-dir $d/state
	socket $d/rogue.sock
	gossip-period 200
	suspect-timeout 1500
	dead-timeout 3000
	CONF
	nsenter --net=/run/netns/migr-node3 "$MIGR_BUILDDIR/migrd/migrd" -f -c "$d/rogue.conf" \
		2>"$d/rogue.log" &
	rogue=$!
	sleep 2
	run alive_on node1
	kill "$rogue"
	wait "$rogue" || true
	[ "$output" = "node1 node2 node3" ]
	run on node1 mctl nodes --json
	[[ $output != *rogue* ]]
	grep -q "bad key" "$d/rogue.log"
	grep -q "refused: closed without proving the cluster key" "$(node_dir node1)/migrd.log"
	rm -rf "$d"
}

@test "mctl leave: the node leaves at once, is shown dead, and comes back when restarted" {
	run on node3 mctl leave
	[ "$status" -eq 0 ]
	# well before any timeout
	wait_until 2 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = dead ]"
	grep -q "node3: alive -> left" "$(node_dir node1)/migrd.log"
	cluster start node3
	wait_until 6 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = alive ]"
}

@test "leave is for root only" {
	run as_user 65534 node2 mctl leave
	[ "$status" -eq 1 ]
	[[ $output == *"leave: only root may take a node out of the cluster"* ]]
	run state_on node1 node2
	[ "$output" = alive ]
}

@test "mctl: bad usage and an unreachable daemon get one clear line" {
	run "$MIGR_BUILDDIR/cli/mctl" frobnicate
	[ "$status" -eq 2 ]
	[[ ${lines[0]} == "mctl: frobnicate: unknown command" ]]
	MIGR_SOCKET=/nonexistent/sock run "$MIGR_BUILDDIR/cli/mctl" nodes
	[ "$status" -eq 1 ]
	[ "$output" = "mctl: cannot reach migrd at /nonexistent/sock: No such file or directory (is migrd running? MIGR_SOCKET selects the socket)" ]
	run "$MIGR_BUILDDIR/cli/mctl" --help
	[ "$status" -eq 0 ]
	[[ $output == *"mctl nodes [--json]"* ]]
}
