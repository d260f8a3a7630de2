#!/usr/bin/env bats
# Moves that fail: every process a move involves killed with SIGKILL, and the link cut,
# early (before the job runs at the destination) and late (mid page transfer), for a
# 1 GiB job whose home (node1) is neither end of the move (node2 -> node3). After each:
# exactly one copy of the job runs, its memory is intact, its output still reaches mrun,
# mmigrate has answered within seconds, and once any killed migrd is back mps lists the
# job once.

load lib/cluster
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	# each criu restore stays stopped a moment as it starts, for "criu restore killed" to
	# find it alive: a restore takes only tens of milliseconds
	MIGR_CLUSTER_CONF="test-pause in-restore 1500" cluster_up 3 --no-balance
	export MEMJOB=$MIGR_BUILDDIR/tests/tools/memjob
}

teardown_file() {
	cluster_down
}

teardown() {
	# a failed case shows what each daemon logged of its move
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${GPID:-}" ]; then
		for n in node1 node2 node3; do
			echo "# $n:"
			grep -F "$GPID" "$(log_of "$n")" | tail -n 40 | sed 's/^/#   /'
		done >&3
	fi
	# whatever a case left cut or stopped comes back for the next, and whatever of its
	# job is left ends (by pid: all of it is ours)
	cluster link node3 up 2>/dev/null || true
	for n in node2 node3; do cluster start "$n" >/dev/null 2>&1 || true; done
	if [ -n "${MRUN_PID:-}" ]; then
		[ -z "${GPID:-}" ] || on node1 mkill -s KILL "$GPID" >/dev/null 2>&1 || true
		for _ in $(seq 50); do kill -0 "$MRUN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$MRUN_PID" 2>/dev/null || true
		wait "$MRUN_PID" 2>/dev/null || true
	fi
	local p
	for p in $(pgrep -f -- "^$MEMJOB 1024( idle)?\$"); do kill -KILL "$p" 2>/dev/null || true; done
}

# the job's processes on the whole machine: one memjob per copy, with its state
copies() {
	local p
	for p in $(pgrep -f -- "^$MEMJOB 1024\$"); do
		awk '{print $3}' "/proc/$p/stat" 2>/dev/null
	done
}

one_running_copy() {
	local c
	c=$(copies)
	[ "$(echo "$c" | grep -c .)" -eq 1 ] && [ "$c" != T ]
}

log_of() {
	echo "$(node_dir "$1")/migrd.log"
}

# start_job: a 1 GiB memjob started from node1 on node2, its memory filled
start_job() {
	OUT=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n node2 "$MEMJOB" 1024 >"$OUT"
	MRUN_PID=$BG_PID
	wait_until 60 grep -q "^1 ok" "$OUT"
	GPID=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 1024")) | .gpid')
	[ -n "$GPID" ]
}

# when_early: the source has started the dump (the job freezes)
when_early() {
	wait_until 20 grep -q "$GPID: move to node3: starting -> dumping" "$(log_of node2)"
}

# when_late: the job runs at the destination and its pages are coming
when_late() {
	wait_until 30 grep -q "$GPID: move from node2: receiving -> filling" "$(log_of node3)"
	sleep 0.3
}

# kill_one PATTERN: SIGKILL to the one process of ours whose command line holds it
kill_one() {
	local pid deadline=$((SECONDS + 20))
	until pid=$(pids_of "$1" | head -n1) && [ -n "$pid" ]; do
		[ $SECONDS -lt $deadline ] || { echo "no process like '$1' to kill" >&2; return 1; }
	done
	kill -KILL "$pid"
}

# fault_case WHEN WHAT: a move node2 -> node3 with that fault injected at that moment
fault_case() {
	local when=$1 what=$2 started took status
	start_job
	started=$SECONDS
	timeout 120 "$CLUSTER" run node1 mmigrate "$GPID" node3 >"$BATS_TEST_TMPDIR/mmigrate" 2>&1 &
	local mig=$!
	case $what in
	criu-restore)
		# the earliest moment there is: as soon as it runs
		kill_one "restore -D $(node_dir node3)/state/migrate/$GPID\."
		;;
	criu-dump)
		kill_one "dump -t [0-9]* -D $(node_dir node2)/state/migrate/$GPID\." ;;
	*)
		"when_$when"
		case $what in
		source-migrd) cluster stop node2 --kill ;;
		destination-migrd) cluster stop node3 --kill ;;
		source-helper) kill_one "migr-move send --gpid $GPID" ;;
		destination-helper) kill_one "migr-move recv --gpid $GPID" ;;
		link) cluster link node3 down; sleep 5; cluster link node3 up ;;
		esac
		;;
	esac
	status=0
	wait "$mig" || status=$?
	took=$((SECONDS - started))
	echo "mmigrate ($status, ${took}s): $(cat "$BATS_TEST_TMPDIR/mmigrate")"
	# it answered within seconds of the fault
	[ "$took" -le 40 ]
	for n in node2 node3; do cluster start "$n"; done
	# exactly one copy runs, and it is whole: its checks go on and find nothing wrong
	wait_until 30 one_running_copy || { copies; false; }
	local n
	n=$(grep -c ok "$OUT")
	wait_until 30 sh -c "[ \$(grep -c ok $OUT) -gt $((n + 1)) ]"
	! grep -q BAD "$OUT"
	# where mmigrate says it is, mps lists it, once, from every node
	wait_until 20 sh -c "[ \$($CLUSTER run node1 mps --json |
		jq --arg g $GPID '[.[] | select(.gpid == \$g)] | length') -eq 1 ]"
	local node
	node=$(on node1 mps --json | jq -r --arg g "$GPID" '.[] | select(.gpid == $g) | .node')
	if [ "$status" -eq 0 ]; then [ "$node" = node3 ]; else [ "$node" = node2 ]; fi
	for n in node2 node3; do
		[ "$(on "$n" mps --json | jq --arg g "$GPID" '[.[] | select(.gpid == $g)] | length')" -eq 1 ]
	done
	on node1 mkill -s KILL "$GPID"
	wait "$MRUN_PID" || true
	MRUN_PID=
	# nothing of the move is left behind: no helper, no criu
	[ -z "$(pids_of "migr-move send --gpid $GPID")$(pids_of "migr-move recv --gpid $GPID")" ]
}

@test "early: the source's migrd killed" {
	fault_case early source-migrd
}

@test "late: the source's migrd killed" {
	fault_case late source-migrd
}

@test "early: the destination's migrd killed" {
	fault_case early destination-migrd
}

@test "late: the destination's migrd killed" {
	fault_case late destination-migrd
}

@test "early: criu dump killed" {
	fault_case early criu-dump
}

@test "early: criu restore killed" {
	fault_case early criu-restore
}

@test "early: the source's helper killed" {
	fault_case early source-helper
}

@test "late: the source's helper (which serves the pages) killed" {
	fault_case late source-helper
}

@test "early: the destination's helper killed" {
	fault_case early destination-helper
}

@test "late: the destination's helper (the page servicer) killed" {
	fault_case late destination-helper
}

@test "early: the link to the destination cut for 5 s" {
	fault_case early link
}

@test "late: the link to the destination cut for 5 s" {
	fault_case late link
}

@test "the destination's migrd and helper killed together mid-transfer: the source resumes, and the restarted migrd ends what was left of the copy there" {
	# a job that never looks at its memory once filled: a lazy move's copy runs at once and
	# its 1 GiB comes by the background push alone, a second or more to kill both in; a
	# copy left with missing pages would run on unnoticed
	out=$BATS_TEST_TMPDIR/idle.out
	bg_on node1 mrun -n node2 "$MEMJOB" 1024 idle >"$out"
	MRUN_PID=$BG_PID
	wait_until 60 grep -q "^2 idle" "$out"
	GPID=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 1024 idle")) | .gpid')
	timeout 120 "$CLUSTER" run node1 mmigrate "$GPID" node3 >"$BATS_TEST_TMPDIR/mmigrate" 2>&1 &
	local mig=$!
	wait_until 20 grep -q "$GPID: move from node2: receiving -> filling" "$(log_of node3)"
	# the copy restore made there, by its pid
	local copy
	copy=$(sed -n "s/.*$GPID: restored here from node2, init pid \([0-9]*\).*/\1/p" \
		"$(log_of node3)" | tail -n1)
	[ -n "$copy" ]
	# both the destination's migrd and its helper die as the job runs there
	local helper
	helper=$(pids_of "migr-move recv --gpid $GPID" | head -n1)
	cluster stop node3 --kill
	[ -z "$helper" ] || kill -KILL "$helper" 2>/dev/null || true
	wait "$mig" || true
	cat "$BATS_TEST_TMPDIR/mmigrate"
	grep -q "not moved to node3" "$BATS_TEST_TMPDIR/mmigrate"
	# the source's copy runs on (its helper heard nothing more, node3 was declared dead)
	wait_until 30 sh -c "[ \$($CLUSTER run node1 mps --json |
		jq -r --arg g $GPID '.[] | select(.gpid == \$g) | .node') = node2 ]"
	n=$(grep -c idle "$out")
	wait_until 10 sh -c "[ \$(grep -c idle $out) -gt $((n + 2)) ]"
	# node3 comes back: what restore left of the copy there ends
	cluster start node3
	wait_until 20 grep -q "$GPID: a move from node2 found after a restart" "$(log_of node3)"
	copy_gone() {
		! kill -0 "$copy" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$copy/stat")" = Z ]
	}
	wait_until 10 copy_gone
	[ "$(on node1 mps --json | jq --arg g "$GPID" '[.[] | select(.gpid == $g)] | length')" -eq 1 ]
}
