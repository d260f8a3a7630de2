#!/usr/bin/env bats
# scripts/cluster itself: up, run and down leave the machine as they found it.

load lib/cluster
bats_require_minimum_version 1.5.0

setup() {
	require_root
	cluster_down
}

teardown() {
	cluster_down
}

# what the machine has that a cluster could leave behind
machine_state() {
	ip netns list | sort
	ip -o link | awk -F': ' '{print $2}' | sort
	find /sys/fs/cgroup/cpu -maxdepth 2 -type d | sort
	ls /run
}

# gone PID: no such process, or a zombie waiting for pid 1
gone() {
	! [ -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat")" = Z ]
}

@test "up 3 then down leaves no namespace, link, cgroup, file or daemon behind" {
	before=$(machine_state)
	cluster up 3
	[ "$(ip netns list | grep -c '^migr-')" -eq 4 ]	# three nodes and the hub
	[ -d /sys/fs/cgroup/cpu/migr-cluster/node3 ]
	pids=$(cat "$(node_dir node1)/migrd.pid" "$(node_dir node2)/migrd.pid" "$(node_dir node3)/migrd.pid")
	cluster down
	[ "$(machine_state)" = "$before" ]
	for pid in $pids; do
		gone "$pid"
	done
}

@test "up returns with every node seeing every other alive" {
	cluster up 3
	for n in node1 node2 node3; do
		[ "$(on "$n" mctl nodes --json | jq '[.[] | select(.state == "alive")] | length')" -eq 3 ]
	done
}

@test "two ups and two downs in a row are not errors" {
	cluster up 2
	run cluster up 2
	[ "$status" -eq 0 ]
	[ "$output" = "cluster of 2 nodes already up" ]
	run cluster up 3
	[ "$status" -eq 1 ]
	[[ $output == *"a cluster of 2 nodes is up"* ]]
	cluster down
	run cluster down
	[ "$status" -eq 0 ]
}

@test "--cpus gives each node that capacity through its cpu cgroup" {
	cluster up 2 --cpus 0.5
	[ "$(cat /sys/fs/cgroup/cpu/migr-cluster/node1/cpu.cfs_quota_us)" -eq 50000 ]
	[ "$(cat /sys/fs/cgroup/cpu/migr-cluster/node2/cpu.cfs_quota_us)" -eq 50000 ]
	[ "$(on node1 mctl nodes --json | jq '[.[] | .cpus] | unique | .[0]')" = 0.5 ]
}

@test "the nodes run with the balancer on, as a real node does, unless --no-balance" {
	cluster up 2
	on node1 mctl status --json | jq -e '.balance == true'
	on node2 mctl status --json | jq -e '.balance == true'
	cluster down
	cluster up 2 --no-balance
	on node1 mctl status --json | jq -e '.balance == false'
}

@test "MIGR_CLUSTER_CONF goes into every node's config, MIGR_CLUSTER_CONF_nodeK into nodeK's" {
	MIGR_CLUSTER_CONF="max-user-jobs 7" MIGR_CLUSTER_CONF_node2="test-hide-path /tmp/migr-x" \
		cluster up 3
	for n in node1 node2 node3; do
		grep -qx "max-user-jobs 7" "$(node_dir "$n")/migrd.conf"
	done
	! grep -q test-hide-path "$(node_dir node1)/migrd.conf" "$(node_dir node3)/migrd.conf"
	# and node2's migrd takes it as its own
	"$MIGR_BUILDDIR/migrd/migrd" -n -c "$(node_dir node2)/migrd.conf" |
		grep -qx "test-hide-path /tmp/migr-x"
}

@test "run passes the exit status and runs inside the node's network namespace" {
	cluster up 2
	run on node2 ip -o -4 addr show dev eth0
	[ "$status" -eq 0 ]
	[[ $output == *"10.77.0.2/24"* ]]
	run on node1 sh -c 'exit 42'
	[ "$status" -eq 42 ]
	run on node1 sh -c 'echo "$MIGR_SOCKET"'
	[ "$output" = "$(node_dir node1)/migrd.sock" ]
}

@test "run on an unknown node is one clear error and exit 2" {
	cluster up 2
	run on node9 true
	[ "$status" -eq 2 ]
	[ "$output" = "cluster: node9: no such node (nodes: node1 node2)" ]
}

@test "nodes reach each other over the bridge, which is not on the machine's own network" {
	cluster up 3
	on node3 ss -tln | grep -q '10.77.0.3:7470'
	on node2 bash -c 'exec 3<>/dev/tcp/10.77.0.3/7470'
	! ip -o addr | grep -q '10\.77\.0\.'
	! ip -o link | grep -qE ': (br0|mh[0-9]+|mc[0-9]+)[@:]'
}

@test "down ends a job that ignores SIGHUP and SIGTERM, and removes its cgroup" {
	cluster up 2
	gpid=$(on node1 mrun -d -n here sh -c 'trap "" HUP TERM; while :; do sleep 1; done')
	wait_until 5 grep -q . /sys/fs/cgroup/cpu/migr-cluster/node1/cgroup.procs
	pids=$(cat /sys/fs/cgroup/cpu/migr-cluster/node1/cgroup.procs)
	[ -n "$pids" ]
	cluster down
	for pid in $pids; do
		gone "$pid"
	done
	[ ! -d /sys/fs/cgroup/cpu/migr-cluster ]
	: "$gpid"
}

@test "bad arguments get a usage error and exit 2" {
	run cluster up zero
	[ "$status" -eq 2 ]
	[ "$output" = "cluster: up: want a node count in 1..200" ]
	run cluster up 2 --cpus lots
	[ "$status" -eq 2 ]
	run cluster frobnicate
	[ "$status" -eq 2 ]
	[ ! -e "$MIGR_CLUSTER_DIR" ]
}
