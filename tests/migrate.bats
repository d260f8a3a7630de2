#!/usr/bin/env bats
# Live migration on a real three-node cluster: what a move keeps, and that nothing is lost
# when a move fails.

load lib/cluster
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	# node3 says it lacks these files (the nodes share one file system): --check's test
	MIGR_CLUSTER_CONF_node3="test-hide-path /tmp/migr-hidden" cluster_up 3 --no-balance
	user_tools_install
	export MEMJOB=$MIGR_BUILDDIR/tests/tools/memjob
	[ -x "$MEMJOB" ] || skip "tests/tools/memjob not built (make check builds it)"
}

teardown_file() {
	cluster_down
	user_tools_remove
}

teardown() {
	# a test that cut node3's link mends it for the next, even if it failed
	cluster link node3 up 2>/dev/null || true
	if [ -n "${HIDDEN:-}" ]; then rm -rf "$HIDDEN"; fi
}

node_of() {
	on node1 mps --json | jq -r --arg g "$1" '.[] | select(.gpid == $g) | .node'
}

@test "a 300 MiB job keeps its memory across lazy and copy moves, and comes home" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n here "$MEMJOB" 300 >"$out"
	mrun_pid=$BG_PID
	wait_until 30 grep -q "^2 ok" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 300")) | .gpid')
	run on node1 mmigrate --json "$gpid" node2
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.node == "node2" and .freeze_ms > 0 and .total_ms >= .freeze_ms'
	[ "$(node_of "$gpid")" = node2 ]
	n=$(counter "$out" | tail -n1)
	wait_until 10 sh -c "[ \$(grep -c ok $out) -gt $((n + 1)) ]"
	run on node3 mmigrate --mode copy "$gpid" node3
	[ "$status" -eq 0 ]
	[[ $output == "$gpid: moved to node3 (copy): freeze "*" ms, total "*" ms" ]]
	[ "$(node_of "$gpid")" = node3 ]
	n=$(counter "$out" | tail -n1)
	wait_until 10 sh -c "[ \$(grep -c ok $out) -gt $((n + 1)) ]"
	run on node2 mmigrate "$gpid" home
	[ "$status" -eq 0 ]
	[ "$(node_of "$gpid")" = node1 ]
	n=$(counter "$out" | tail -n1)
	wait_until 10 sh -c "[ \$(grep -c ok $out) -gt $((n + 1)) ]"
	[ "$(copies_of "$gpid")" -eq 1 ]
	on node1 mkill "$gpid"
	wait "$mrun_pid" || true
	! grep -q BAD "$out"
	continuous "$out"
	on node1 mps --json | jq -e --arg g "$gpid" '[.[] | select(.gpid == $g)] | length == 0'
}

@test "output keeps flowing to mrun across three moves; the exit status comes back" {
	out=$BATS_TEST_TMPDIR/out
	on node1 mrun -n here sh -c 'i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo $i; sleep 0.1; done; exit 7' \
		>"$out" &
	mrun_pid=$!
	wait_until 10 grep -q "^3$" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("exit 7")) | .gpid')
	for n in node2 node3 node1; do
		on node1 mmigrate "$gpid" "$n"
		[ "$(node_of "$gpid")" = "$n" ]
		sleep 0.3
	done
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 7 ]
	[ "$(counter "$out" | tail -n1)" = 60 ]
	continuous "$out"
}

@test "a multithreaded job, a shell pipeline and a Python job move and keep going" {
	for job in "$MEMJOB 32 4" \
		"sh -c 'i=0; while :; do i=\$((i+1)); echo \$i; sleep 0.1; done | cat | cat'" \
		"python3 -u -c 'import time
i = 0
while True:
    i += 1; print(i); time.sleep(0.1)'"; do
		out=$BATS_TEST_TMPDIR/out
		: >"$out"
		gpid=$(on node1 sh -c "XDG_STATE_HOME=$BATS_TEST_TMPDIR mrun -d -n here $job")
		wait_until 15 sh -c "[ \$(wc -l < $BATS_TEST_TMPDIR/migr/$gpid.out) -ge 3 ]"
		on node1 mmigrate "$gpid" node2
		on node2 mmigrate "$gpid" node3
		log=$BATS_TEST_TMPDIR/migr/$gpid.out
		n=$(wc -l <"$log")
		wait_until 10 sh -c "[ \$(wc -l < $log) -gt $((n + 2)) ]"
		[ "$(node_of "$gpid")" = node3 ]
		on node1 mkill -s KILL "$gpid"
		wait_until 5 sh -c "[ \$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mps --json | jq length) -eq 0 ]"
		! grep -q BAD "$log"
		continuous "$log"
	done
}

@test "a job appending to a file loses no line and doubles none across moves" {
	f=$BATS_TEST_TMPDIR/appended
	: >"$f"
	chmod 666 "$f"
	on node1 mrun -n here sh -c "i=0; while [ \$i -lt 80 ]; do i=\$((i+1)); echo \$i >> $f; sleep 0.05; done" &
	mrun_pid=$!
	wait_until 10 grep -q "^3$" "$f"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("appended")) | .gpid')
	on node1 mmigrate "$gpid" node2
	on node1 mmigrate --mode copy "$gpid" node3
	wait "$mrun_pid"
	seq 1 80 | cmp - "$f"
}

@test "an ordinary user's job moves like root's and stays that user, without capabilities" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 setpriv --reuid=65534 --regid=65534 --clear-groups env -C / PATH="$USER_BIN:/usr/bin:/bin" \
		LD_LIBRARY_PATH="$USER_PREFIX/lib" mrun -n here sh -c 'while :; do grep -E "^(Uid|CapEff|NoNewPrivs)" /proc/self/status | tr "\n" " "; echo; sleep 0.2; done' >"$out"
	mrun_pid=$BG_PID
	wait_until 10 grep -q Uid "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.user == "nobody") | .gpid')
	run as_nobody mmigrate "$gpid" node2
	[ "$status" -eq 0 ]
	run as_nobody mmigrate "$gpid" node3
	[ "$status" -eq 0 ]
	: >"$out"
	wait_until 10 grep -q Uid "$out"
	grep -q "Uid:	65534	65534	65534	65534 CapEff:	0000000000000000 NoNewPrivs:	1" "$out"
	on node1 mps --json | jq -e --arg g "$gpid" '.[] | select(.gpid == $g) | .user == "nobody" and .node == "node3"'
	kill "$mrun_pid"
	wait "$mrun_pid" || true
}

@test "refusals say why: unknown node, same node, not the owner, no such job, bad mode" {
	gpid=$(on node1 mrun -d -n node2 sleep 60)
	run on node1 mmigrate "$gpid" node9
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: node9: no such node" ]
	run on node1 mmigrate "$gpid" node2
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: $gpid: already runs on node2" ]
	run on node1 mmigrate node1.99999 node3
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: node1.99999: no such job" ]
	run on node1 mmigrate --mode fast "$gpid" node3
	[ "$status" -eq 2 ]
	run on node1 mmigrate 1234 node3
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: 1234: not a job id (want NODE.N)" ]
	on node1 mkill "$gpid"
}

@test "another user may not move a job" {
	gpid=$(on node1 mrun -d -n node2 sleep 60)
	run as_nobody mmigrate "$gpid" node3
	on node1 mkill "$gpid"
	[ "$output" = "mmigrate: $gpid: not your job (it belongs to uid 0)" ]
	[ "$status" -eq 1 ]
}

@test "a job CRIU cannot move (a TCP connection) stays where it was, and CRIU's reason is shown" {
	gpid=$(on node1 mrun -d -n here bash -c 'exec 3<>/dev/tcp/10.77.0.2/7470; sleep 60')
	sleep 1
	run on node1 mmigrate "$gpid" node3
	[ "$status" -eq 1 ]
	echo "$output"
	# CRIU's first error, the one naming what it could not dump, not its summary line
	[[ $output == "mmigrate: $gpid: not moved to node3: criu dump failed on node1: "* ]]
	[[ $output != *FAILED* ]]
	[[ $output == *[Ss]ocket* || $output == *TCP* || $output == *tcp* ]]
	[ "$(node_of "$gpid")" = node1 ]
	on node1 mps --json | jq -e --arg g "$gpid" '.[] | select(.gpid == $g) | .state != "T"'
	on node1 mkill "$gpid"
}

@test "mmigrate --check: movable, or each thing the job holds that cannot move; the job untouched" {
	plain=$(on node1 mrun -d -n node2 sleep 60)
	run on node3 mmigrate --check "$plain"
	[ "$status" -eq 0 ]
	[ "$output" = movable ]
	run on node1 mmigrate --check "$plain" node3
	[ "$status" -eq 0 ]
	[ "$output" = movable ]
	run on node1 mmigrate --check "$plain" node2
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: $plain: already runs on node2" ]
	# a TCP connection, a /proc file and a file lock, in a job of three processes
	lock=$BATS_TEST_TMPDIR/lock
	held=$(on node1 mrun -d -n node2 bash -c "exec 3<>/dev/tcp/10.77.0.1/7470 4</proc/self/status 5>$lock;
		flock 5; sleep 60 & sleep 60")
	sleep 1
	run on node1 mmigrate --check "$held" node3
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} == "$held: holds an established TCP connection (to 10.77.0.1:7470"*"): its address is this node's" ]]
	[[ ${lines[1]} == "$held: holds a file lock (FLOCK): "* ]]
	[[ ${lines[2]} == "$held: holds a file under /proc (/proc/"*"/status"*"): it names processes of this node" ]]
	# nothing was stopped, nothing moved
	on node1 mps --json | jq -e --arg g "$held" '.[] | select(.gpid == $g) | .node == "node2" and .state != "T" and .moves == 0'
	# mps --why says the same, once the node has looked
	why_listed() {
		on node3 mps --why | grep -q "^$held  *node2  *holds an established TCP connection"
	}
	wait_until 10 why_listed
	on node3 mps --why | grep -q "^$plain  *node2  *-\$"
	on node1 mps --json | jq -e --arg g "$plain" '.[] | select(.gpid == $g) | .why == ""'
	# the owner only; bad input
	run as_nobody mmigrate --check "$held"
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: $held: not your job (it belongs to uid 0)" ]
	run on node1 mmigrate --check node1.99999
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: node1.99999: no such job" ]
	run on node1 mmigrate --check
	[ "$status" -eq 2 ]
	run on node1 mmigrate --check "$held" node2 node3
	[ "$status" -eq 2 ]
	on node1 mkill -s KILL "$held"
	on node1 mkill "$plain"
}

@test "mmigrate --check NODE: the files the job needs that NODE lacks; the job untouched" {
	HIDDEN=$(mktemp -d /tmp/migr-hidden.XXXXXX)
	hidden=$HIDDEN
	echo data >"$hidden/file"
	echo data >"$hidden/gone"
	ready=$BATS_TEST_TMPDIR/ready
	open=$(on node1 mrun -d -n here bash -c "exec 3<$hidden/file; touch $ready.1; exec sleep 60")
	# its working directory too, then the file: the first named, the other counted
	cwd=$(on node1 env -C "$hidden" mrun -d -n here bash -c "exec 3<$hidden/file; touch $ready.2;
		exec sleep 60")
	# a file deleted since: the move carries it, nothing to ask
	gone=$(on node1 mrun -d -n here bash -c "exec 3<$hidden/gone; rm $hidden/gone; touch $ready.3;
		exec sleep 60")
	wait_until 10 test -e "$ready.1" -a -e "$ready.2" -a -e "$ready.3"
	run on node1 mmigrate --check "$open" node3
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "$open: holds a file not present on node3 ($hidden/file): a move would fail to open it there" ]
	run on node2 mmigrate --check "$cwd" node3
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "$cwd: holds a file not present on node3 ($hidden and 1 more): a move would fail to open it there" ]
	run on node1 mmigrate --check "$gone" node3
	[ "$status" -eq 0 ]
	[ "$output" = movable ]
	# node2 has them all; without a node, no node is asked
	for g in "$open" "$cwd"; do
		run on node1 mmigrate --check "$g" node2
		[ "$status" -eq 0 ]
		[ "$output" = movable ]
		run on node1 mmigrate --check "$g"
		[ "$output" = movable ]
	done
	# nothing was stopped, nothing moved
	for g in "$open" "$cwd" "$gone"; do
		on node1 mps --json | jq -e --arg g "$g" '.[] | select(.gpid == $g) | .node == "node1" and .state != "T" and .moves == 0'
	done
	# a node that does not answer in 5 s leaves the job movable, and the job's node says so
	cluster link node3 down
	SECONDS=0
	run on node1 mmigrate --check "$open" node3
	took=$SECONDS
	cluster link node3 up
	echo "$output ($took s)"
	[ "$status" -eq 0 ]
	[ "$output" = movable ]
	[ "$took" -ge 4 ]
	[ "$took" -le 15 ]
	grep -q "$open: node3 did not say in 5 s whether it has the job's files: answered movable" \
		"$(node_dir node1)/migrd.log"
	for g in "$open" "$cwd" "$gone"; do
		on node1 mkill "$g"
	done
	# node3 is back for the tests after this one
	wait_until 20 sh -c "[ \"\$($CLUSTER run node1 mctl nodes --json |
		jq -r '.[] | select(.name == \"node3\") | .state')\" = alive ]"
}

@test "the destination dying mid-move leaves exactly one copy, running on the source" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n here "$MEMJOB" 256 >"$out"
	mrun_pid=$BG_PID
	wait_until 30 grep -q "^2 ok" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 256")) | .gpid')
	# kill node2's migrd as soon as the restore has started there
	(
		for _ in $(seq 200); do
			grep -q "$gpid: restored here" "$(node_dir node2)/migrd.log" && break
			sleep 0.02
		done
		cluster stop node2 --kill
	) &
	killer=$!
	run on node1 mmigrate "$gpid" node2
	wait "$killer"
	# either it failed and lives on node1, or it made it before the kill: one copy either way
	wait_until 10 sh -c "[ \"\$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mps --json |
		jq --arg g $gpid '[.[] | select(.gpid == \$g)] | length')\" = 1 ]"
	if [ "$status" -ne 0 ]; then
		[ "$(node_of "$gpid")" = node1 ]
		n=$(counter "$out" | tail -n1)
		wait_until 10 sh -c "[ \$(grep -c ok $out) -gt $((n + 1)) ]"
	fi
	cluster start node2
	on node1 mkill "$gpid"
	wait "$mrun_pid" || true
	! grep -q BAD "$out"
}

@test "page traffic goes only over the peer link: no page-server port is opened" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n here "$MEMJOB" 512 >"$out"
	mrun_pid=$BG_PID
	wait_until 40 grep -q "^1 ok" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 512")) | .gpid')
	on node1 mmigrate "$gpid" node2 &
	mig=$!
	ports=""
	for _ in $(seq 20); do
		ports="$ports $(nsenter --net=/run/netns/migr-node1 ss -Hltn | awk '{print $4}')"
		sleep 0.05
	done
	wait "$mig"
	# only migrd's own port ever listened on the source
	for p in $ports; do
		[ "$p" = "10.77.0.1:7470" ]
	done
	on node1 mkill "$gpid"
	wait "$mrun_pid" || true
}
