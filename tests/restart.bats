#!/usr/bin/env bats
# Jobs outlive their node's migrd (a crash, a restart, an upgrade): each job's holder keeps
# its pipes and its end, and the migrd that starts again takes the jobs on. A real
# three-node cluster; migrd killed with SIGKILL or stopped with SIGTERM.

load lib/cluster
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	cluster_up 3 --no-balance	# the jobs stay where the tests put them
	user_tools_install
}

teardown_file() {
	cluster_down
	user_tools_remove
}

teardown() {
	for n in node1 node2 node3; do cluster start "$n" 2>/dev/null || true; done
	for g in $(on node1 mps --json | jq -r '.[].gpid'); do
		on node1 mkill -s KILL "$g" 2>/dev/null || true
	done
}

# a shell counter: 1..N, one line each 0.1 s, then exit STATUS
count_job() {
	echo "i=0; while [ \$i -lt $1 ]; do i=\$((i+1)); echo \$i; sleep 0.1; done; exit $2"
}

gpid_of() {
	on node1 mps --json | jq -r --arg c "$1" '.[] | select(.cmd | contains($c)) | .gpid'
}

holders_on() {
	find "$(node_dir "$1")/state/hold" -name '*.pid' 2>/dev/null | wc -l
}

# jobs_on NODE N: mps lists N jobs running on NODE
jobs_on() {
	[ "$(on node1 mps --json | jq --arg n "$1" '[.[] | select(.node == $n)] | length')" -eq "$2" ]
}

listed_once() {
	[ "$(copies_of "$1")" -eq 1 ]
}

@test "a job outlives its node's migrd, killed and stopped: no output lost or repeated, its status arrives" {
	out=$BATS_TEST_TMPDIR/out
	on node1 mrun -n node2 sh -c "$(count_job 80 7)" >"$out" &
	mrun_pid=$!
	wait_until 10 grep -q "^5$" "$out"
	gpid=$(gpid_of "-lt 80")
	pid=$(job_field "$gpid" pid)

	cluster stop node2 --kill
	kill -0 "$pid"	# it runs on without migrd
	sleep 0.5
	cluster start node2
	wait_until 10 listed_once "$gpid"
	[ "$(job_field "$gpid" pid)" = "$pid" ]
	[ "$(job_field "$gpid" node)" = node2 ]
	[ "$(job_field "$gpid" home)" = node1 ]
	grows "$out"

	cluster stop node2	# SIGTERM: an upgrade's stop leaves the jobs running
	kill -0 "$pid"
	cluster start node2
	wait_until 10 listed_once "$gpid"

	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 7 ]
	continuous "$out"
	[ "$(counter "$out" | tail -n1)" = 80 ]
	grep -q "adopted from its holder" "$(node_dir node2)/migrd.log"
	wait_until 5 sh -c "[ $(holders_on node2) -eq 0 ]"
}

@test "a job that ends while its node's migrd is down: its output and status still reach mrun" {
	out=$BATS_TEST_TMPDIR/out
	on node1 mrun -n node3 sh -c 'echo started; sleep 1; echo done; exit 5' >"$out" &
	mrun_pid=$!
	wait_until 10 grep -q started "$out"
	cluster stop node3 --kill
	sleep 2	# it ends meanwhile; its holder keeps its end and its last output
	cluster start node3
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 5 ]
	[ "$(cat "$out")" = "$(printf 'started\ndone')" ]
	wait_until 5 sh -c "[ \$(find $(node_dir node3)/state/hold -name '*.pid' | wc -l) -eq 0 ]"
}

@test "after a restart the job is signalled, moved and moved back as before" {
	out=$BATS_TEST_TMPDIR/out
	on node1 mrun -n node2 sh -c "$(count_job 100000 0)" >"$out" &
	mrun_pid=$!
	wait_until 10 grep -q "^3$" "$out"
	gpid=$(gpid_of "-lt 100000")
	cluster stop node2 --kill
	cluster start node2
	wait_until 10 listed_once "$gpid"

	run on node3 mmigrate "$gpid" node3
	[ "$status" -eq 0 ]
	[ "$(job_field "$gpid" node)" = node3 ]
	[ "$(job_field "$gpid" moves)" = 1 ]
	grows "$out"
	# and the holder on node3 is what a restart of node3 finds
	cluster stop node3 --kill
	cluster start node3
	wait_until 10 listed_once "$gpid"
	[ "$(job_field "$gpid" moves)" = 1 ]
	run on node1 mmigrate "$gpid" node2
	[ "$status" -eq 0 ]
	grows "$out"
	wait_until 5 sh -c "[ \$(find $(node_dir node3)/state/hold -name '*.pid' | wc -l) -eq 0 ]"

	on node1 mkill -s TERM "$gpid"
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 143 ]
	continuous "$out"
}

@test "an attached mrun outlives its home's migrd: it waits, attaches again, and misses no output" {
	out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
	on node1 mrun -n node2 sh -c "$(count_job 80 7)" >"$out" 2>"$err" &
	mrun_pid=$!
	wait_until 10 grep -q "^5$" "$out"
	gpid=$(gpid_of "-lt 80")
	cluster stop node1 --kill
	sleep 1	# the job writes on meanwhile; its node keeps what the home did not take
	cluster start node1
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 7 ]
	continuous "$out"
	[ "$(counter "$out" | tail -n1)" = 80 ]
	grep -q "^mrun: $gpid: lost contact with migrd: waiting up to 60 s" "$err"
	grep -q "^mrun: $gpid: attached again (it runs on node2)" "$err"
	[ ! -e "$(node_dir node1)/state/home/$gpid" ]
}

@test "a job and its mrun on one node outlive that node's migrd, stopped and killed" {
	out=$BATS_TEST_TMPDIR/out
	# no trap: a hang-up would end it
	on node3 mrun -n here sh -c "$(count_job 60 6)" >"$out" 2>/dev/null &
	mrun_pid=$!
	wait_until 10 grep -q "^5$" "$out"
	cluster stop node3	# SIGTERM closes mrun's connection: no hang-up for that
	cluster start node3
	wait_until 10 grep -q "^25$" "$out"
	cluster stop node3 --kill
	sleep 0.5
	cluster start node3
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 6 ]
	continuous "$out"
	[ "$(counter "$out" | tail -n1)" = 60 ]
}

@test "mrun --attach: a detached job's output and end come to it; only its user's, one at a time" {
	out=$BATS_TEST_TMPDIR/out
	export XDG_STATE_HOME=$BATS_TEST_TMPDIR
	gpid=$(on node1 mrun -d -n node2 sh -c 'while [ ! -e /tmp/migr-attach-go ]; do sleep 0.1; done; echo after; exit 4')
	on node1 mrun --attach "$gpid" >"$out" 2>"$out.err" &
	mrun_pid=$!
	wait_until 10 grep -q "$gpid: an mrun attached" "$(node_dir node1)/migrd.log"
	run on node1 mrun --attach "$gpid"
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: $gpid: an mrun is attached to it already" ]
	run on node2 mrun --attach "$gpid"
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: $gpid: its home is node1: attach there" ]
	run on node1 mrun --attach node1.999999
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: node1.999999: no such job" ]
	run on node1 mrun --attach nonsense
	[ "$status" -eq 2 ]
	[ "$output" = "mrun: --attach: 'nonsense' is not a job id (NODE.N)" ]
	run on node1 mrun --attach "$gpid" sh
	[ "$status" -eq 2 ]
	[[ $output == "mrun: --attach takes a job's id and nothing else"* ]]
	touch /tmp/migr-attach-go
	st=0
	wait "$mrun_pid" || st=$?
	rm -f /tmp/migr-attach-go
	[ "$st" -eq 4 ]
	[ "$(cat "$out")" = after ]
}

@test "mrun --attach: another user's job is refused" {
	export XDG_STATE_HOME=$BATS_TEST_TMPDIR
	gpid=$(on node1 mrun -d -n node2 sleep 100)
	run as_nobody mrun --attach "$gpid"
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: $gpid: not your job" ]
}

@test "a detached job whose home restarted keeps its output at its node until someone attaches" {
	out=$BATS_TEST_TMPDIR/out
	export XDG_STATE_HOME=$BATS_TEST_TMPDIR
	gpid=$(on node1 mrun -d -n node2 sh -c "$(count_job 40 3)")
	sleep 1
	cluster stop node1 --kill
	cluster start node1
	sleep 4	# it has ended by now: its last lines and its status wait
	grep -q "$gpid: home to it again (it ran on node2)" "$(node_dir node1)/migrd.log"
	st=0
	on node1 mrun --attach "$gpid" >"$out" || st=$?
	[ "$st" -eq 3 ]
	# what the file got before the restart, then what waited: every line once
	cat "$XDG_STATE_HOME/migr/$gpid.out" "$out" >"$out.all"
	continuous "$out.all"
	[ "$(counter "$out.all" | tail -n1)" = 40 ]
	[ -s "$out" ]
	[ ! -e "$(node_dir node1)/state/home/$gpid" ]
}

@test "a job at its home outlives the home's migrd: listed again, and its user can still end it" {
	export XDG_STATE_HOME=$BATS_TEST_TMPDIR
	run on node1 mrun -d -n here sleep 1000
	[ "$status" -eq 0 ]
	gpid=$(gpid_of "sleep 1000")
	pid=$(job_field "$gpid" pid)
	cluster stop node1 --kill
	cluster start node1
	wait_until 10 listed_once "$gpid"
	[ "$(job_field "$gpid" pid)" = "$pid" ]
	[ "$(job_field "$gpid" user)" = root ]
	on node2 mps | grep -q "^$gpid "
	run on node1 mkill "$gpid"
	[ "$status" -eq 0 ]
	wait_until 10 sh -c "! kill -0 $pid 2>/dev/null"
	wait_until 10 sh -c "[ \$(find $(node_dir node1)/state/hold -name '*.pid' | wc -l) -eq 0 ]"
	[ "$(copies_of "$gpid")" -eq 0 ]
}

@test "a holder killed: the job goes on under its migrd, and its end still arrives" {
	out=$BATS_TEST_TMPDIR/out
	on node1 mrun -n node2 sh -c "$(count_job 30 4)" >"$out" &
	mrun_pid=$!
	wait_until 10 grep -q "^3$" "$out"
	gpid=$(gpid_of "-lt 30")
	hpid=$(cat "$(node_dir node2)/state/hold/$gpid.pid")
	[ "$(tr '\0' ' ' <"/proc/$hpid/cmdline" | cut -d' ' -f1)" = migr-hold ]
	kill -KILL "$hpid"
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 4 ]
	continuous "$out"
	[ "$(counter "$out" | tail -n1)" = 30 ]
}

@test "a holder killed after a restart: the job's output goes on and its end is still seen" {
	out=$BATS_TEST_TMPDIR/out
	on node1 mrun -n node2 sh -c "$(count_job 40 4)" >"$out" &
	mrun_pid=$!
	wait_until 10 grep -q "^3$" "$out"
	gpid=$(gpid_of "-lt 40")
	cluster stop node2 --kill
	cluster start node2
	wait_until 10 listed_once "$gpid"
	kill -KILL "$(cat "$(node_dir node2)/state/hold/$gpid.pid")"
	st=0
	wait "$mrun_pid" || st=$?
	[ "$st" -eq 255 ]	# its status went with its holder
	continuous "$out"
	[ "$(counter "$out" | tail -n1)" = 40 ]
	grep -q "$gpid: its holder died and its init is not ours" "$(node_dir node2)/migrd.log"
}

@test "twenty restarts in a row under a steady load leak no holder, process, descriptor or file" {
	fds_before=""
	for round in $(seq 20); do
		# a job that ends, one that runs through, each round
		on node1 mrun -n node2 sh -c 'echo round; exit 3' >/dev/null || [ $? -eq 3 ]
		XDG_STATE_HOME=$BATS_TEST_TMPDIR on node1 mrun -d -n node2 sleep 30 >/dev/null
		if [ "$round" -eq 1 ]; then
			sleep 0.5
			fds_before=$(ls /proc/"$(cat "$(node_dir node2)/migrd.pid")"/fd | wc -l)
		fi
		if [ $((round % 2)) -eq 0 ]; then cluster stop node2 --kill; else cluster stop node2; fi
		cluster start node2
	done
	wait_until 10 jobs_on node2 20
	[ "$(holders_on node2)" -eq 20 ]
	for g in $(on node1 mps --json | jq -r '.[] | select(.node == "node2") | .gpid'); do
		listed_once "$g"
		on node1 mkill -s KILL "$g"
	done
	wait_until 15 sh -c "[ \$(find $(node_dir node2)/state/hold -type f | wc -l) -eq 0 ]"
	[ -z "$(pids_of "migr-hold --gpid .* --dir $(node_dir node2)/state/hold")" ]
	fds_after=$(ls /proc/"$(cat "$(node_dir node2)/migrd.pid")"/fd | wc -l)
	[ "$fds_after" -le "$((fds_before + 2))" ]
}
