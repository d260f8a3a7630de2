#!/usr/bin/env bats
# Freezing a job to its node's disk (mmigrate --freeze) and thawing it (mmigrate GPID NODE)
# on a real three-node cluster: memory, output and exit status survive, on the same node or
# another, across its node's migrd restarts; signals, refusals and who may read the images.

load lib/cluster
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	cluster_up 3 --no-balance	# the jobs stay where the tests put them
	user_tools_install
	export MEMJOB=$MIGR_BUILDDIR/tests/tools/memjob
	[ -x "$MEMJOB" ] || skip "tests/tools/memjob not built (make check builds it)"
}

teardown_file() {
	cluster_down
	user_tools_remove
}

teardown() {
	for g in $(on node1 mps --json | jq -r '.[].gpid'); do
		on node1 mkill -s KILL "$g" 2>/dev/null || true
	done
}

state_is() {
	[ "$(job_field "$1" state)" = "$2" ]
}

# running GPID: it has processes (the shell loops of these tests run or sleep)
running() {
	case "$(job_field "$1" state)" in R | S) return 0 ;; *) return 1 ;; esac
}

one_listed() {
	[ "$(copies_of "$1")" -eq 1 ]
}

frozen_dir() {
	echo "$(node_dir "$1")/state/frozen/$2"
}

@test "frozen on its node, a job stops, keeps its memory, and thaws there and on another node" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n node2 "$MEMJOB" 64 >"$out"
	mrun_pid=$BG_PID
	wait_until 30 grep -q "^2 ok" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 64")) | .gpid')

	run on node3 mmigrate --freeze --json "$gpid"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.node == "node2" and .state == "frozen" and .total_ms > 0'
	state_is "$gpid" frozen
	[ "$(job_field "$gpid" pid)" -eq 0 ]
	[ "$(job_field "$gpid" node)" = node2 ]
	on node1 mps | grep -E "^$gpid +node1 +node2 +0 +root +F "
	# no process left, images readable by root only, and no more output
	! pgrep -fx "$MEMJOB 64" >/dev/null
	d=$(frozen_dir node2 "$gpid")
	[ "$(stat -c %a "$d")" = 700 ]
	[ "$(stat -c %a "$(dirname "$d")")" = 700 ]
	[ -n "$(ls "$d"/pages-*.img)" ]
	n=$(wc -l <"$out")
	sleep 1.5
	[ "$(wc -l <"$out")" -eq "$n" ]
	run on node1 mmigrate --freeze "$gpid"
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: $gpid: already frozen on node2" ]

	# thawed where it is
	run on node1 mmigrate "$gpid" node2
	[ "$status" -eq 0 ]
	running "$gpid"
	[ ! -e "$d" ]
	grows "$out"

	# frozen again, thawed elsewhere (copy mode), then frozen and thawed once more
	on node1 mmigrate --freeze "$gpid"
	run on node2 mmigrate --mode copy "$gpid" node3
	[ "$status" -eq 0 ]
	[ "$(job_field "$gpid" node)" = node3 ]
	[ ! -e "$d" ]
	grows "$out"
	on node1 mmigrate --freeze "$gpid"
	[ -d "$(frozen_dir node3 "$gpid")" ]
	run on node1 mmigrate "$gpid" node1
	[ "$status" -eq 0 ]
	[ "$(job_field "$gpid" node)" = node1 ]
	[ ! -e "$(frozen_dir node3 "$gpid")" ]
	grows "$out"
	[ "$(copies_of "$gpid")" -eq 1 ]

	on node1 mkill "$gpid"
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 143 ]
	! grep -q BAD "$out"
	continuous "$out"
}

@test "the exit status of a job frozen and thawed still reaches its mrun" {
	out=$BATS_TEST_TMPDIR/out
	on node1 mrun -n node3 sh -c 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i; sleep 0.1; done; exit 9' \
		>"$out" &
	mrun_pid=$!
	wait_until 10 grep -q "^3$" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("exit 9")) | .gpid')
	on node1 mmigrate --freeze "$gpid"
	sleep 0.5
	on node1 mmigrate "$gpid" node2
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 9 ]
	[ "$(counter "$out" | tail -n1)" = 40 ]
	continuous "$out"
}

@test "a frozen job outlives its node's migrd, killed or stopped, and thaws after" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n node2 "$MEMJOB" 32 >"$out"
	mrun_pid=$BG_PID
	wait_until 30 grep -q "^2 ok" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 32")) | .gpid')
	on node1 mmigrate --freeze "$gpid"

	cluster stop node2 --kill
	cluster start node2
	wait_until 10 state_is "$gpid" frozen
	cluster stop node2
	cluster start node2
	wait_until 10 state_is "$gpid" frozen
	[ "$(job_field "$gpid" cmd)" = "$MEMJOB 32" ]
	[ "$(copies_of "$gpid")" -eq 1 ]

	run on node1 mmigrate "$gpid" node3
	[ "$status" -eq 0 ]
	[ "$(job_field "$gpid" node)" = node3 ]
	grows "$out"
	[ ! -e "$(frozen_dir node2 "$gpid")" ]
	on node1 mkill "$gpid"
	wait "$mrun_pid" || true
	! grep -q BAD "$out"
	continuous "$out"
}

@test "stdin typed while a job is frozen waits, and reaches it once thawed elsewhere" {
	out=$BATS_TEST_TMPDIR/out
	fifo=$BATS_TEST_TMPDIR/in
	mkfifo "$fifo"
	exec 5<>"$fifo"
	on node1 mrun -n node2 sh -c 'while read l; do echo "got $l"; done; echo eof' <"$fifo" >"$out" 5>&- &
	mrun_pid=$!
	echo one >&5
	wait_until 10 grep -q "^got one$" "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("got")) | .gpid')
	on node1 mmigrate --freeze "$gpid"
	echo two >&5
	sleep 1
	! grep -q "^got two$" "$out"
	on node1 mmigrate "$gpid" node3
	wait_until 10 grep -q "^got two$" "$out"
	echo three >&5
	wait_until 10 grep -q "^got three$" "$out"
	exec 5>&-
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 0 ]
	[ "$(cat "$out")" = "$(printf 'got %s\n' one two three; echo eof)" ]
}

@test "SIGTERM ends a frozen job; other signals wait for the thaw" {
	gpid=$(on node1 sh -c "XDG_STATE_HOME=$BATS_TEST_TMPDIR mrun -d -n node2 sh -c 'trap \"echo usr1\" USR1; while :; do sleep 0.1; done'")
	log=$BATS_TEST_TMPDIR/migr/$gpid.out
	wait_until 10 running "$gpid"
	on node1 mmigrate --freeze "$gpid"
	on node1 mkill -s USR1 "$gpid"
	sleep 0.5
	state_is "$gpid" frozen
	! grep -q usr1 "$log"
	on node1 mmigrate "$gpid" node3
	wait_until 10 grep -q usr1 "$log"
	running "$gpid"

	on node1 mmigrate --freeze "$gpid"
	d=$(frozen_dir node3 "$gpid")
	[ -d "$d" ]
	run on node1 mkill "$gpid"
	[ "$status" -eq 0 ]
	wait_until 10 sh -c "[ \$($BATS_TEST_DIRNAME/../scripts/cluster run node1 mps --json | jq length) -eq 0 ]"
	[ ! -e "$d" ]
}

@test "freeze refusals: not the owner, no such job, a node or a mode given, --check with it" {
	gpid=$(on node1 mrun -d -n node2 sleep 60)
	run as_nobody mmigrate --freeze "$gpid"
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: $gpid: not your job (it belongs to uid 0)" ]
	run on node1 mmigrate --freeze node1.99999
	[ "$status" -eq 1 ]
	[ "$output" = "mmigrate: node1.99999: no such job" ]
	run on node1 mmigrate --freeze "$gpid" node3
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "mmigrate: --freeze: want a job id, and no node or mode" ]
	run on node1 mmigrate --freeze --mode copy "$gpid"
	[ "$status" -eq 2 ]
	run on node1 mmigrate --freeze --check "$gpid"
	[ "$status" -eq 2 ]
	running "$gpid"
	# a frozen job is movable (to thaw it); a thaw to a drained node is refused and it
	# stays frozen
	on node1 mmigrate --freeze "$gpid"
	run on node1 mmigrate --check "$gpid"
	[ "$status" -eq 0 ]
	[ "$output" = movable ]
	on node1 mctl drain node3
	run on node1 mmigrate "$gpid" node3
	on node1 mctl undrain node3
	[ "$status" -eq 1 ]
	state_is "$gpid" frozen
	on node1 mkill "$gpid"
}

@test "an ordinary user freezes and thaws their own job" {
	ud=$(mktemp -d /tmp/migr-freeze-user.XXXXXX)
	chmod 1777 "$ud"
	gpid=$(as_nobody env XDG_STATE_HOME="$ud" mrun -d -n node2 sleep 600)
	rm -rf "$ud"
	run as_nobody mmigrate --freeze "$gpid"
	[ "$status" -eq 0 ]
	[ "$output" = "$gpid: frozen on node2 in $(echo "$output" | grep -Eo '[0-9]+ ms$')" ]
	# the images are root's: the job's user cannot read them
	d=$(frozen_dir node2 "$gpid")
	run as_nobody ls "$d"
	[ "$status" -ne 0 ]
	run as_nobody mmigrate "$gpid" node3
	[ "$status" -eq 0 ]
	[ "$(job_field "$gpid" user)" = nobody ]
	[ "$(job_field "$gpid" node)" = node3 ]
	as_nobody mkill "$gpid"
}

# ---- faults: each process a freeze or a thaw involves, killed ----

has_pid() {
	[ -n "$(pids_of "$1")" ]
}

no_pid() {
	[ -z "$(pids_of "$1")" ]
}

# big_job NODE: a 1 GiB memjob started from node1 on NODE (its freeze and thaw last long
# enough to be caught); sets OUT, MRUN_PID, GPID
big_job() {
	OUT=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n "$1" "$MEMJOB" 1024 >"$OUT"
	MRUN_PID=$BG_PID
	wait_until 60 grep -q "^1 ok" "$OUT"
	GPID=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("memjob 1024")) | .gpid')
}

end_big_job() {
	on node1 mkill -s KILL "$GPID" || true
	wait "$MRUN_PID" || true
	! grep -q BAD "$OUT"
	continuous "$OUT"
}

@test "criu dump killed mid-freeze: the job goes on running, nothing is left on disk" {
	big_job node2
	on node1 mmigrate --freeze "$GPID" >"$BATS_TEST_TMPDIR/freeze" 2>&1 &
	mm=$!
	wait_until 20 has_pid "dump -t [0-9]+ -D .*/frozen/$GPID"
	kill -KILL $(pids_of "dump -t [0-9]+ -D .*/frozen/$GPID")
	st=0
	wait "$mm" || st=$?
	[ "$st" -eq 1 ]
	grep -q "^mmigrate: $GPID: not frozen on node2: " "$BATS_TEST_TMPDIR/freeze"
	wait_until 10 running "$GPID"
	[ ! -e "$(frozen_dir node2 "$GPID")" ]
	grows "$OUT"
	end_big_job
}

@test "criu restore killed mid-thaw: the job stays frozen, and thaws at the next try" {
	big_job node2
	on node1 mmigrate --freeze "$GPID"
	on node1 mmigrate "$GPID" node2 >"$BATS_TEST_TMPDIR/thaw" 2>&1 &
	mm=$!
	wait_until 20 has_pid "restore -D .*/frozen/$GPID"
	kill -KILL $(pids_of "restore -D .*/frozen/$GPID")
	st=0
	wait "$mm" || st=$?
	[ "$st" -eq 1 ]
	grep -q "^mmigrate: $GPID: not thawed on node2: " "$BATS_TEST_TMPDIR/thaw"
	state_is "$GPID" frozen
	[ -z "$(pgrep -fx "$MEMJOB 1024")" ]
	run on node1 mmigrate "$GPID" node2
	[ "$status" -eq 0 ]
	grows "$OUT"
	end_big_job
}

@test "the sending helper killed mid-thaw elsewhere: one copy, frozen here or running there" {
	big_job node2
	on node1 mmigrate --freeze "$GPID"
	on node1 mmigrate "$GPID" node3 >"$BATS_TEST_TMPDIR/thaw" 2>&1 &
	mm=$!
	wait_until 20 has_pid "migr-move send --gpid $GPID"
	kill -KILL $(pids_of "migr-move send --gpid $GPID")
	wait "$mm" || true
	wait_until 30 no_pid "migr-move .* $GPID"
	[ "$(copies_of "$GPID")" -eq 1 ]
	if state_is "$GPID" frozen; then
		[ "$(job_field "$GPID" node)" = node2 ]
		[ -d "$(frozen_dir node2 "$GPID")" ]
		[ -z "$(pgrep -fx "$MEMJOB 1024")" ]
		on node1 mmigrate "$GPID" node3
	fi
	[ "$(job_field "$GPID" node)" = node3 ]
	[ ! -e "$(frozen_dir node2 "$GPID")" ]
	[ "$(pgrep -fx "$MEMJOB 1024" | wc -l)" -eq 1 ]
	grows "$OUT"
	end_big_job
}

@test "the frozen node's migrd killed mid-thaw elsewhere: one copy after it is back" {
	big_job node2
	on node1 mmigrate --freeze "$GPID"
	on node1 mmigrate "$GPID" node3 >/dev/null 2>&1 &
	mm=$!
	wait_until 20 has_pid "migr-move send --gpid $GPID"
	cluster stop node2 --kill
	wait "$mm" || true
	cluster start node2
	wait_until 60 no_pid "migr-move .* $GPID"
	wait_until 30 one_listed "$GPID"
	if state_is "$GPID" frozen; then
		[ -d "$(frozen_dir node2 "$GPID")" ]
		on node1 mmigrate "$GPID" node3
	fi
	[ "$(job_field "$GPID" node)" = node3 ]
	wait_until 10 sh -c "[ ! -e $(frozen_dir node2 "$GPID") ]"
	[ "$(pgrep -fx "$MEMJOB 1024" | wc -l)" -eq 1 ]
	grows "$OUT"
	end_big_job
}
