#!/usr/bin/env bats
# Load balancing on a real three-node cluster of one CPU each: jobs start where there is
# room, move by themselves to where there is room, and only when they should.

load lib/cluster
bats_require_minimum_version 1.5.0

RESIDENCY_MS=4000

setup() {
	require_root
	export MIGR_CLUSTER_CONF="balance-residency $RESIDENCY_MS"
	cluster_up 3 --cpus 1 >/dev/null
}

teardown() {
	cluster_down
	user_tools_remove
}

# burners N [MRUN-OPTION...] [-- COMMAND...]: N CPU-bound jobs started on node1 and run
# there (-n here), detached, for the balancer to spread; the command defaults to a shell
# spinning
burners() {
	local n=$1 opts=() cmd=(sh -c 'while :; do :; done')
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ] && [[ $1 == -* ]]; do
		opts+=("$1")
		shift
	done
	[ "${1:-}" != -- ] || shift
	[ $# -eq 0 ] || cmd=("$@")
	for _ in $(seq "$n"); do
		on node1 mrun -d -n here "${opts[@]}" "${cmd[@]}" >/dev/null
	done
}

# placed N [MRUN-OPTION...]: N CPU-bound jobs started with plain mrun on node1, detached
placed() {
	local n=$1
	shift
	for _ in $(seq "$n"); do
		on node1 mrun -d "$@" sh -c 'while :; do :; done' >/dev/null
	done
}

balancers_off() {
	for n in node1 node2 node3; do on "$n" mctl balance off; done
}

# jobs_on NODE: how many jobs run there
jobs_on() {
	on node1 mps --json | jq --arg n "$1" '[.[] | select(.node == $n)] | length'
}

even() {
	local a b c
	a=$(jobs_on node1) b=$(jobs_on node2) c=$(jobs_on node3)
	echo "jobs on node1..3: $a $b $c"
	[ "$a" -eq 3 ] && [ "$b" -eq 3 ] && [ "$c" -eq 3 ]
}

total_moves() {
	on node1 mps --json | jq '[.[] | .moves] | add // 0'
}

@test "an overloaded node sheds jobs until the loads are even, logging each reason" {
	burners 9
	wait_until 60 even
	log=$(node_dir node1)/migrd.log
	grep -q "balance: moving node1\.[0-9]* to node[23]\( ([0-9]* of [0-9]*)\)\?: load [0-9.]*/CPU here, .* a gap of" "$log"
	# and then it stays even: nothing more moves
	moves=$(total_moves)
	sleep 3
	[ "$(total_moves)" -eq "$moves" ]
	even
}

@test "plain mrun places a burst over the nodes as it starts, with the balancer off" {
	balancers_off
	placed 9
	# where each job started: nothing moved it
	[ "$(total_moves)" -eq 0 ]
	even
	grep -q "node1\.[0-9]*: placed on node[23]: load [0-9.]*/CPU on node[23] with the job" \
		"$(node_dir node1)/migrd.log"
}

@test "mrun -j spreads its copies the same way; -n here keeps jobs on this node" {
	balancers_off
	where='ip -o -4 addr show dev eth0'
	on node1 mrun -d -n here sh -c 'while :; do :; done' >/dev/null
	run on node1 mrun -j 5 sh -c "sleep 2; $where"
	[ "$status" -eq 0 ]
	n1=$(grep -c ' 10\.77\.0\.1/' <<<"$output")
	n2=$(grep -c ' 10\.77\.0\.2/' <<<"$output")
	n3=$(grep -c ' 10\.77\.0\.3/' <<<"$output")
	[ $((n1 + n2 + n3)) -eq 5 ]
	# node1 runs a job already: it takes at most its share of the five
	[ "$n1" -le 2 ]
	[ "$n2" -ge 1 ]
	[ "$n3" -ge 1 ]
	placed 5 -n here
	[ "$(jobs_on node1)" -eq 6 ]
	[ "$(jobs_on node2)" -eq 0 ]
	[ "$(jobs_on node3)" -eq 0 ]
	run on node1 mrun -j 2 -n here sh -c "$where"
	[ "$status" -eq 0 ]
	[ "$(grep -c ' 10\.77\.0\.1/' <<<"$output")" -eq 2 ]
}

@test "a burst started on one node spreads long before the residency, each job moving once" {
	cluster_down
	MIGR_CLUSTER_CONF="balance-residency 60000" cluster_up 3 --cpus 1 >/dev/null
	burners 9
	wait_until 30 even
	# six moves, no job twice
	[ "$(total_moves)" -eq 6 ]
	on node1 mps --json | jq -e 'all(.[]; .moves <= 1)'
	log=$(node_dir node1)/migrd.log
	# six moves were tried at least (a destination that filled up meanwhile may refuse one
	# more: it is not counted above, and nothing moved for it)
	[ "$(grep -c "balance: moving" "$log")" -ge 6 ]
	# node1 planned more than one move in a period
	grep -q "balance: moving node1\.[0-9]* to node[23] (2 of [0-9]*): load" "$log"
	# it stays even
	sleep 3
	[ "$(total_moves)" -eq 6 ]
	even
}

@test "a --no-migrate job never moves" {
	burners 4 --no-migrate
	sleep $((RESIDENCY_MS / 1000 + 4))
	[ "$(jobs_on node1)" -eq 4 ]
	[ "$(total_moves)" -eq 0 ]
}

@test "jobs that hold what cannot move are left where they are, and the log says why" {
	# an established TCP connection to node2's daemon port: CRIU would refuse the dump
	burners 4 bash -c 'exec 3<>/dev/tcp/10.77.0.2/7470; while :; do :; done'
	sleep $((RESIDENCY_MS / 1000 + 4))
	[ "$(jobs_on node1)" -eq 4 ]
	[ "$(total_moves)" -eq 0 ]
	grep -q "node1\.[0-9]*: the balancer leaves it here: it holds an established TCP connection (to 10.77.0.2:7470)" \
		"$(node_dir node1)/migrd.log"
	# no move was even tried
	! grep -q "balance: moving" "$(node_dir node1)/migrd.log"
}

@test "with balancing off nothing moves; turned on again, jobs spread" {
	for n in node1 node2 node3; do on "$n" mctl balance off; done
	on node1 mctl status | grep -q "balancer     off"
	burners 6
	sleep $((RESIDENCY_MS / 1000 + 3))
	[ "$(jobs_on node1)" -eq 6 ]
	[ "$(total_moves)" -eq 0 ]
	on node1 mctl balance on
	wait_until 40 sh -c "[ \$($CLUSTER run node1 mps --json | jq '[.[] | select(.node == \"node1\")] | length') -le 2 ]"
}

@test "only root may turn the balancer off" {
	user_tools_install
	run as_user 65534 node1 mctl balance off
	[ "$status" -eq 1 ]
	[ "$output" = "mctl: balance: only root may turn the balancer on or off" ]
	run on node1 mctl balance sideways
	[ "$status" -eq 2 ]
	on node1 mctl status --json | jq -e '.balance == true'
}

# Polls mps and records, per job, when it was first seen on a new node.
watch_moves() {
	local until=$((SECONDS + $1)) out=$2 now
	while [ $SECONDS -lt "$until" ]; do
		now=$(date +%s%N)
		on node1 mps --json | jq -r --arg t "$now" '.[] | "\($t) \(.gpid) \(.node)"' >>"$out"
		sleep 0.2
	done
}

@test "no job moves twice within the minimum residency" {
	seen=$BATS_TEST_TMPDIR/seen
	watch_moves 30 "$seen" &
	watcher=$!
	burners 6
	# once they have spread, node2 and node3 get loads of their own that do not move, so
	# the jobs that just landed there are pushed on again
	wait_until 40 sh -c "[ \$($CLUSTER run node1 mps --json | jq '[.[] | select(.node == \"node1\")] | length') -le 2 ]"
	for n in node2 node2 node2 node3 node3 node3; do
		on "$n" mrun -d -n here --no-migrate sh -c 'while :; do :; done' >/dev/null
	done
	wait "$watcher"
	# per job: the times it changed node; consecutive changes at least the residency apart,
	# less the polling interval (the first may come at once: a job that never moved may)
	awk -v min=$(((RESIDENCY_MS - 400) * 1000000)) '
		{ if (!($2 in node)) { node[$2] = $3; next }
		  if ($3 != node[$2]) {
			if (($2 in last) && $1 - last[$2] < min) {
				print "moved too soon: " $2 " to " $3; bad = 1
			}
			node[$2] = $3; last[$2] = $1; moves++
		  } }
		END { print moves + 0 " moves seen"; exit bad }' "$seen"
	# some job did move twice, or the test proved nothing
	on node1 mps --json | jq -e '[.[] | select(.moves >= 2)] | length > 0'
}

@test "a destination dying during a balancing move loses no job that had not left" {
	memjob=$MIGR_BUILDDIR/tests/tools/memjob
	[ -x "$memjob" ] || skip "tests/tools/memjob not built (make check builds it)"
	for _ in 1 2 3 4; do
		on node1 mrun -d -n here "$memjob" 200 1 >/dev/null	# a spinning thread: CPU-bound
	done
	gpids=$(on node1 mps --json | jq -r '.[].gpid' | sort)
	log=$(node_dir node1)/migrd.log
	wait_until 30 grep -q "balance: moving" "$log"
	line=$(grep -m1 "balance: moving" "$log")
	moving=$(sed 's/.*balance: moving \([^ ]*\) to \([^:]*\):.*/\1/' <<<"$line")
	dest=$(sed 's/.*balance: moving \([^ ]*\) to \([^ :]*\).*/\2/' <<<"$line")
	cluster stop "$dest" --kill
	on node1 mctl balance off	# what stays on node1 stays, for the count below
	wait_until 20 sh -c "$CLUSTER run node1 mctl nodes --json | jq -e '.[] | select(.name == \"$dest\") | .state == \"dead\"'"
	sleep 1
	run on node1 mps --json
	listed=$(jq -r '.[] | select(.state != "Z") | .gpid' <<<"$output" | sort)
	for g in $gpids; do
		[ "$g" = "$moving" ] && continue
		grep -qx "$g" <<<"$listed"	# every job that had not left still runs
	done
	# the one under way either stayed on node1, or had landed on the dead node
	if grep -qx "$moving" <<<"$listed"; then
		[ "$(jq -r --arg g "$moving" '.[] | select(.gpid == $g) | .node' <<<"$output")" != "$dest" ]
	fi
}

# mem_free_mib NODE: the free memory NODE reports for itself, in MiB
mem_free_mib() {
	on "$1" mctl nodes --json | jq --arg n "$1" '.[] | select(.name == $n) | .mem_free_kb / 1024 | floor'
}

# memcg NODE FILE: a file of the node's memory cgroup
memcg() {
	cat "/sys/fs/cgroup/memory/migr-cluster/$1/$2"
}

@test "memory: a node's capacity is its memory cgroup's limit, and it reports what is free in it" {
	cluster_down
	cluster_up 3 --cpus 1 --mem 1G,4G >/dev/null
	[ "$(memcg node1 memory.limit_in_bytes)" -eq $((1024 * 1024 * 1024)) ]
	[ "$(memcg node3 memory.limit_in_bytes)" -eq $((4096 * 1024 * 1024)) ]	# the last repeats
	free1=$(mem_free_mib node1)
	[ "$free1" -le 1024 ] && [ "$free1" -ge 900 ]
	on node1 mrun -d -n here "$MIGR_BUILDDIR/tests/tools/memjob" 300 idle >/dev/null
	# the job's memory is counted in node1's cgroup: its free memory drops by about that
	wait_until 10 sh -c "[ \$($CLUSTER run node1 mctl nodes --json |
		jq '.[] | select(.name == \"node1\") | .mem_free_kb / 1024 | floor') -le $((free1 - 280)) ]"
	[ "$(mem_free_mib node2)" -ge 3800 ]
}

@test "memory: jobs that overfill a small node move to roomier ones before it runs out" {
	cluster_down
	cluster_up 3 --cpus 1 --mem 1G,4G,4G >/dev/null
	for _ in 1 2 3; do	# 840 MiB of 1 GiB: under balance-mem-low's 256 MiB free
		on node1 mrun -d -n here "$MIGR_BUILDDIR/tests/tools/memjob" 280 idle >/dev/null
	done
	gpids=$(on node1 mps --json | jq -r '.[].gpid' | sort)
	[ "$(wc -w <<<"$gpids")" -eq 3 ]
	log=$(node_dir node1)/migrd.log
	wait_until 60 grep -q "balance: moving node1\.[0-9]* to node[23].*: memory: [0-9]* MiB free here" "$log"
	wait_until 60 sh -c "[ \$($CLUSTER run node1 mps --json | jq '[.[] | select(.node == \"node1\")] | length') -le 2 ]"
	wait_until 10 sh -c "[ \$($CLUSTER run node1 mctl nodes --json |
		jq '.[] | select(.name == \"node1\") | .mem_free_kb / 1024 | floor') -ge 256 ]"
	# all three still run, none was killed, and node1 never reached its limit
	run on node1 mps --json
	[ "$(jq -r '.[] | select(.state != "Z") | .gpid' <<<"$output" | sort)" = "$gpids" ]
	[ "$(memcg node1 memory.failcnt)" -eq 0 ]
	memcg node1 memory.oom_control | grep -qx "oom_kill 0"
	# then it is settled: no job moved twice, nothing moves any more (while they filled
	# their memory they were also CPU-bound: a CPU move may have come first)
	grep "balance: moving" "$log"
	moved=$(on node1 mps --json | jq '[.[] | .moves] | add')
	[ "$(on node1 mps --json | jq '[.[] | .moves] | max')" -le 1 ]
	sleep 3
	[ "$(on node1 mps --json | jq '[.[] | .moves] | add')" -eq "$moved" ]
}

# rss_at_least NODE MIB: every job on NODE holds at least MIB
rss_at_least() {
	[ "$(on node1 mps --json | jq --arg n "$1" --argjson m "$2" '[.[] | select(.node == $n and .rss_kb < $m * 1024)] | length')" -eq 0 ]
}

@test "memory: with balance-freeze on, a job is frozen when no node has room, and thawed when one has" {
	cluster_down
	# no CPU moves (the margin): only memory decides here
	MIGR_CLUSTER_CONF="balance-residency $RESIDENCY_MS
balance-margin 100
balance-freeze on" cluster_up 3 --cpus 1 --mem 1G >/dev/null
	memjob=$MIGR_BUILDDIR/tests/tools/memjob
	# node2 and node3 half full: neither has room for a 400 MiB job and 256 MiB to spare
	for n in node2 node3; do
		on node1 mrun -d -n "$n" "$memjob" 500 idle >/dev/null
		wait_until 30 rss_at_least "$n" 490
	done
	# node1 filled to under 256 MiB free: one of its jobs is frozen, not moved
	for _ in 1 2; do
		on node1 mrun -d -n here "$memjob" 400 idle >/dev/null
		wait_until 30 rss_at_least node1 390
	done
	log=$(node_dir node1)/migrd.log
	wait_until 60 grep -q "balance: freezing node1\.[0-9]*: memory: .* is frozen" "$log"
	wait_until 30 sh -c "[ \$($CLUSTER run node1 mps --json | jq '[.[] | select(.state == \"frozen\")] | length') -eq 1 ]"
	frozen=$(on node1 mps --json | jq -r '.[] | select(.state == "frozen") | .gpid')
	[ "$(on node1 mps --json | jq --arg g "$frozen" -r '.[] | select(.gpid == $g) | .node')" = node1 ]
	[ -d "$(node_dir node1)/state/frozen/$frozen" ]
	[ "$(memcg node1 memory.failcnt)" -eq 0 ]
	# no room with twice the threshold to spare anywhere: it stays frozen, and no other
	# job is frozen or moved
	sleep $((RESIDENCY_MS / 1000 + 2))
	run on node1 mps --json
	[ "$(jq -r --arg g "$frozen" '.[] | select(.gpid == $g) | .state' <<<"$output")" = frozen ]
	[ "$(jq '[.[] | select(.state == "frozen")] | length' <<<"$output")" -eq 1 ]
	[ "$(jq '[.[] | .moves] | add' <<<"$output")" -eq 0 ]
	# room on node2: it comes back there, and runs
	on node1 mkill -s KILL "$(on node1 mps --json | jq -r '.[] | select(.node == "node2") | .gpid')"
	wait_until 60 grep -q "balance: moving $frozen to node2: memory: [0-9]* MiB free on node2, room for the" "$log"
	wait_until 30 sh -c "$CLUSTER run node1 mps --json | jq -e --arg g $frozen '.[] | select(.gpid == \$g) | .node == \"node2\" and (.state == \"S\" or .state == \"R\")'"
	[ ! -e "$(node_dir node1)/state/frozen/$frozen" ]
	[ "$(on node1 mps --json | jq '[.[] | select(.state == "frozen")] | length')" -eq 0 ]
	[ "$(on node1 mps --json | jq 'length')" -eq 3 ]
}

@test "memory: a move to a node without room for the job is refused and says why" {
	cluster_down
	cluster_up 3 --no-balance --cpus 1 --mem 4G,300M,4G >/dev/null
	gpid=$(on node1 mrun -d -n here "$MIGR_BUILDDIR/tests/tools/memjob" 280 idle)
	wait_until 10 sh -c "[ \$($CLUSTER run node1 mps --json | jq --arg g $gpid '.[] | select(.gpid == \$g) | .rss_kb') -ge $((270 * 1024)) ]"
	run on node1 mmigrate "$gpid" node2
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"node2 has no room: "*" kB free"* ]]
	[ "${#lines[@]}" -eq 1 ]
	# --check says so before any move is tried, from what gossip says of node2
	run on node3 mmigrate --check "$gpid" node2
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"node2 has too little free memory: "*" MiB, and the job holds 2"[89]?" MiB" ]]
	run on node3 mmigrate --check "$gpid" node3
	[ "$status" -eq 0 ]
	[ "$output" = movable ]
	# it stays where it was, and runs on
	[ "$(on node1 mps --json | jq -r --arg g "$gpid" '.[] | select(.gpid == $g) | .node')" = node1 ]
	run on node1 mmigrate "$gpid" node3
	[ "$status" -eq 0 ]
}
