#!/usr/bin/env bats
# Load balancing on a real three-node cluster of one CPU each: jobs start where there is
# room, move by themselves to where there is room, and only when they should.

load lib/cluster
bats_require_minimum_version 1.5.0

RESIDENCY_MS=4000

setup() {
	require_root
	export MIGR_CLUSTER_CONF="balance-residency $RESIDENCY_MS"
	cluster_up 3 --cpus 1 --balance >/dev/null
}

teardown() {
	cluster_down
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
	MIGR_CLUSTER_CONF="balance-residency 60000" cluster_up 3 --cpus 1 --balance >/dev/null
	burners 9
	wait_until 30 even
	# six moves, no job twice
	[ "$(total_moves)" -eq 6 ]
	on node1 mps --json | jq -e 'all(.[]; .moves <= 1)'
	log=$(node_dir node1)/migrd.log
	[ "$(grep -c "balance: moving" "$log")" -eq 6 ]
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
	run on node1 setpriv --reuid=65534 --regid=65534 --clear-groups mctl balance off
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
