#!/usr/bin/env bats
# Draining a node (mctl drain, undrain) on a real three-node cluster: a drained node takes
# no new jobs, its movable jobs leave for the other nodes with the balancer off, what
# cannot leave is named, and the node stays drained across its daemon's restart.

load lib/cluster
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	cluster_up 3 --no-balance >/dev/null	# the balancer off: draining moves jobs without it
	user_tools_install
}

teardown_file() {
	cluster_down
	user_tools_remove
}

teardown() {
	# every test starts from an active cluster without jobs
	for n in node1 node2 node3; do
		on node1 mctl undrain "$n" 2>/dev/null || true
	done
	for g in $(on node1 mps --json | jq -r '.[].gpid'); do
		on node1 mkill -s KILL "$g" 2>/dev/null || true
	done
}

# admin_of OBSERVER NODE: NODE's admin state as OBSERVER sees it
admin_of() {
	on "$1" mctl nodes --json | jq -r --arg n "$2" '.[] | select(.name == $n) | .admin'
}

admin_is() {
	[ "$(admin_of "$1" "$2")" = "$3" ]
}

node_of() {
	on node1 mps --json | jq -r --arg g "$1" '.[] | select(.gpid == $g) | .node'
}

jobs_on() {
	on node1 mps --json | jq --arg n "$1" '[.[] | select(.node == $n)] | length'
}

jobs_on_is() {
	[ "$(jobs_on "$1")" -eq "$2" ]
}

@test "a drained node's jobs leave, what cannot leave is named, and it takes no new job" {
	movable=()
	for i in 1 2 3; do
		movable+=("$(on node1 mrun -d -n node2 sleep 1000)")
	done
	stays=$(on node1 mrun -d -n node2 --no-migrate sleep 1000)
	wait_until 10 jobs_on_is node2 4

	run on node1 mctl drain node2
	[ "$status" -eq 0 ]
	[ "$output" = "$stays stays on node2: started with --no-migrate" ]
	[ "$(admin_of node2 node2)" = drained ]
	wait_until 2 admin_is node1 node2 drained	# the node that asked knows at once

	# with the balancer off everywhere, each movable job leaves, spread over the others
	wait_until 30 jobs_on_is node2 1
	[ "$(node_of "$stays")" = node2 ]
	for g in "${movable[@]}"; do
		run node_of "$g"
		[[ $output == node1 || $output == node3 ]]
	done
	[ "$(jobs_on node1)" -ge 1 ] && [ "$(jobs_on node3)" -ge 1 ]

	# every node learns it from gossip
	wait_until 5 admin_is node3 node2 drained
	run on node3 mctl nodes
	[[ $output == *"node2 "*" alive "*" drained "* ]]

	# nothing new goes there: named, here on it, moved to it, or placed
	run on node1 mrun -n node2 true
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: node2 is drained: it takes no new jobs (mctl undrain node2)" ]
	run on node2 mrun -n here true
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: node2 is drained: it takes no new jobs (mctl undrain node2)" ]
	run on node1 mmigrate "${movable[0]}" node2
	[ "$status" -eq 1 ]
	[[ $output == *"node2 is drained: it takes no new jobs"* ]]
	run on node1 mmigrate --check "${movable[0]}" node2
	[ "$status" -eq 1 ]
	[[ $output == *"node2 is drained"* ]]
	for i in 1 2 3 4; do
		g=$(on node2 mrun -d sleep 1000)
		[ "$(node_of "$g")" != node2 ]
	done
	# a job from the drained node still runs, elsewhere, and its output comes back
	run on node2 mrun echo ran
	[ "$status" -eq 0 ]
	[ "$output" = ran ]
}

@test "undrain: the node takes jobs again; drained stays drained across a restart" {
	on node1 mctl drain node3
	cluster stop node3
	cluster start node3
	wait_until 10 admin_is node3 node3 drained
	wait_until 10 admin_is node1 node3 drained
	run on node1 mrun -n node3 true
	[ "$status" -eq 1 ]

	run on node2 mctl undrain node3
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	wait_until 5 admin_is node1 node3 active
	run on node1 mrun -n node3 echo back
	[ "$status" -eq 0 ]
	[ "$output" = back ]
	# undrained stays undrained too
	cluster stop node3
	cluster start node3
	wait_until 10 admin_is node1 node3 active
	[ "$(admin_of node3 node3)" = active ]
}

@test "drain --wait returns once the jobs have left, and times out when they cannot" {
	for i in 1 2; do on node1 mrun -d -n node3 sleep 1000 >/dev/null; done
	wait_until 10 jobs_on_is node3 2
	run on node1 mctl drain --wait --timeout 60 node3
	[ "$status" -eq 0 ]
	[ "$(jobs_on node3)" -eq 0 ]

	# nowhere to go: every other node drained too (the two jobs that left end first:
	# drained in turn, node1 and node2 would send them back to node3 while it is not)
	for g in $(on node1 mps --json | jq -r '.[].gpid'); do on node1 mkill -s KILL "$g"; done
	wait_until 10 sh -c "[ \$($CLUSTER run node1 mps --json | jq length) -eq 0 ]"
	on node1 mctl undrain node3
	on node1 mrun -d -n node3 sleep 1000 >/dev/null
	on node1 mctl drain node1
	on node1 mctl drain node2
	run on node1 mctl drain --wait --timeout 2 node3
	[ "$status" -eq 1 ]
	echo "output: $output"
	[ "$output" = "mctl: drain: node3: 1 jobs that could leave are still there after 2 s" ]
	[ "$(jobs_on node3)" -eq 1 ]
	run on node1 mrun true
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: no node takes new jobs: every node is drained" ]
	# one node back: the job goes there at last
	on node1 mctl undrain node1
	wait_until 30 jobs_on_is node3 0
}

@test "drain: only root, known nodes, and one clear line for bad usage" {
	run as_user 65534 node1 mctl drain node2
	[ "$status" -eq 1 ]
	[ "$output" = "mctl: drain: only root may drain or undrain a node" ]
	run as_user 65534 node1 mctl undrain node2
	[ "$status" -eq 1 ]
	[ "$(admin_of node1 node2)" = active ]
	run on node1 mctl drain nosuch
	[ "$status" -eq 1 ]
	[ "$output" = "mctl: nosuch: no such node" ]
	run on node1 mctl drain 'a b'
	[ "$status" -eq 2 ]
	[ "$output" = "mctl: drain: a b: not a node name" ]
	run on node1 mctl drain
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "mctl: drain: wrong arguments" ]
	run on node1 mctl nodes --wait
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "mctl: nodes: --wait and --timeout are for drain" ]
	run on node1 mctl drain --timeout 5 node2
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "mctl: drain: --timeout goes with --wait" ]
	run on node1 mctl drain --wait --timeout 0 node2
	[ "$status" -eq 2 ]
	# a node that is down gets one line and a quick answer
	cluster stop node3 --kill
	wait_until 15 sh -c "[ \"\$($CLUSTER run node1 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = dead ]"
	run on node1 mctl drain node3
	[ "$status" -eq 1 ]
	[ "$output" = "mctl: node3: node is dead" ]
	cluster start node3
	wait_until 15 admin_is node1 node3 active
}

@test "a job whose moves fail is tried again later, not every period" {
	# node1 and node3 take no root jobs from other nodes: every move of node2's root job
	# is refused, and it runs on where it is
	for n in node1 node3; do
		echo "peer-root-jobs no" >>"$(node_dir "$n")/migrd.conf"
		cluster stop "$n"
		cluster start "$n"
	done
	wait_until 15 sh -c "[ \$($CLUSTER run node2 mctl nodes --json | jq '[.[] | select(.state == \"alive\")] | length') -eq 3 ]"
	g=$(on node2 mrun -d -n here sleep 1000)
	wait_until 10 jobs_on_is node2 1
	log=$(node_dir node2)/migrd.log
	on node2 mctl drain node2
	# the balancer's period is 2 s: without a pause it would try about 7 times in 14 s
	sleep 14
	tries=$(grep -c "balance: $g stays: " "$log")
	echo "tries: $tries"
	[ "$tries" -ge 2 ] && [ "$tries" -le 3 ]
	grep -q "balance: $g stays: .*takes no root jobs.*; tried again in 4 s at the earliest" "$log"
	grep -q "balance: $g stays: .*; tried again in 8 s at the earliest" "$log"
	[ "$(node_of "$g")" = node2 ]
	for n in node1 node3; do
		sed -i '/^peer-root-jobs no$/d' "$(node_dir "$n")/migrd.conf"
		cluster stop "$n"
		cluster start "$n"
	done
}
