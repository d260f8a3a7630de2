#!/usr/bin/env bats
# Jobs on a real three-node cluster: mrun, stdio and signal forwarding, remote start,
# mps, mkill, as root and as an unprivileged user.

load lib/cluster
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	cluster_up 3 --no-balance
	user_tools_install
	export DATA=$BATS_FILE_TMPDIR/random
	head -c $((10 * 1024 * 1024)) /dev/urandom >"$DATA"
	chmod 644 "$DATA"
}

teardown_file() {
	cluster_down
	user_tools_remove
}



jobs_at_least() {
	[ "$(on node1 mps --json | jq length)" -ge "$1" ]
}

job_gone() {
	! on node1 mps --json | jq -e --arg g "$1" '.[] | select(.gpid == $g)' >/dev/null
}

# the address of the node a job runs on, as the job itself sees it
where_am_i='ip -o -4 addr show dev eth0 | sed "s/.*inet \([0-9.]*\).*/\1/"'

@test "10 MiB of random bytes through mrun -- cat come back unchanged, locally and remotely" {
	on node1 mrun -- cat <"$DATA" >"$BATS_TEST_TMPDIR/local"
	cmp "$DATA" "$BATS_TEST_TMPDIR/local"
	on node1 mrun -n node3 -- cat <"$DATA" >"$BATS_TEST_TMPDIR/remote"
	cmp "$DATA" "$BATS_TEST_TMPDIR/remote"
}

@test "stdout and stderr stay apart and in order; EOF on stdin is passed on" {
	run --separate-stderr on node1 mrun -n node2 sh -c 'for i in 1 2 3; do echo out$i; echo err$i >&2; done'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'out1\nout2\nout3')" ]
	[ "$stderr" = "$(printf 'err1\nerr2\nerr3')" ]
	run on node1 sh -c 'printf abc | mrun -n node2 wc -c'
	[ "$output" = 3 ]
}

@test "no byte is lost when the job exits right after writing" {
	run on node1 sh -c 'mrun -n node3 sh -c "head -c 3000000 /dev/zero; exit 0" | wc -c'
	[ "$output" = 3000000 ]
}

@test "exit codes 0, 1, 42 and death by signal come back to mrun" {
	run on node1 mrun true
	[ "$status" -eq 0 ]
	run on node1 mrun false
	[ "$status" -eq 1 ]
	run on node1 mrun -n node2 sh -c 'exit 42'
	[ "$status" -eq 42 ]
	run on node1 mrun -n node2 sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
	run on node1 mrun sh -c 'kill -TERM $$'
	[ "$status" -eq 143 ]
}

@test "a remote start runs there and its output reaches mrun on node1" {
	run on node1 mrun -n node2 sh -c "$where_am_i"
	[ "$status" -eq 0 ]
	[ "$output" = 10.77.0.2 ]
}

@test "Ctrl-C (SIGINT to mrun) reaches the program wherever it runs" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n node3 sh -c 'trap "echo got INT; exit 5" INT; echo ready; sleep 30 & wait' >"$out"
	pid=$BG_PID
	wait_until 10 grep -q ready "$out"
	kill -INT "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 5 ]
	grep -q "got INT" "$out"
}

@test "other signals sent to mrun reach the program: TERM, USR1, HUP" {
	out=$BATS_TEST_TMPDIR/out
	bg_on node1 mrun -n node2 sh -c 'trap "echo usr1" USR1; trap "echo term; exit 7" TERM; echo ready; while :; do sleep 0.1; done' >"$out"
	pid=$BG_PID
	wait_until 10 grep -q ready "$out"
	kill -USR1 "$pid"
	wait_until 5 grep -q usr1 "$out"
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 7 ]
}

@test "if mrun dies, the job gets SIGHUP" {
	flag=$BATS_TEST_TMPDIR/hup
	bg_on node1 mrun -n node2 sh -c "trap 'echo hup > $flag; exit 0' HUP; echo ready; sleep 30 & wait" \
		>"$BATS_TEST_TMPDIR/out"
	pid=$BG_PID
	wait_until 10 grep -q ready "$BATS_TEST_TMPDIR/out"
	kill -KILL "$pid"
	wait "$pid" || true
	wait_until 10 test -s "$flag"
}

@test "inside the job: no capabilities; as root and as an ordinary user" {
	run on node1 mrun -n node2 sh -c 'grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status; id -u'
	[[ $output == *"CapEff:	0000000000000000"* ]]
	[[ $output == *"CapPrm:	0000000000000000"* ]]
	[[ $output == *"CapBnd:	0000000000000000"* ]]
	[ "${lines[3]}" = 0 ]
	run as_nobody mrun -n node3 sh -c 'grep CapEff /proc/self/status; id -u; id -g; id -G'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "CapEff:	0000000000000000" ]
	[ "${lines[1]}" = 65534 ]
	[ "${lines[2]}" = 65534 ]
	[ "${lines[3]}" = 65534 ]
}

@test "the job gets the caller's cwd, environment and umask" {
	run on node1 sh -c 'cd /tmp && umask 027 && FOO=bar mrun -n node2 sh -c "pwd; echo \$FOO; umask"'
	[ "${lines[0]}" = /tmp ]
	[ "${lines[1]}" = bar ]
	[ "${lines[2]}" = 0027 ]
}

@test "mps shows the same jobs from every node, with user, home and node" {
	on node1 mrun -n node2 sleep 30 >/dev/null &
	p1=$!
	as_nobody mrun -n node3 sleep 30 >/dev/null &
	p2=$!
	wait_until 10 jobs_at_least 2
	for n in node1 node2 node3; do
		run on "$n" mps --json
		[ "$status" -eq 0 ]
		echo "$output" | jq -e '[.[] | select(.cmd | endswith("sleep 30"))] | length == 2'
		echo "$output" | jq -e '.[] | select(.node == "node2" and (.cmd | endswith("sleep 30"))) |
			.home == "node1" and .user == "root" and (.gpid | startswith("node1."))'
		echo "$output" | jq -e '.[] | select(.node == "node3" and (.cmd | endswith("sleep 30"))) |
			.user == "nobody" and .pid > 0 and .rss_kb > 0 and has("cpu") and has("state")'
	done
	run on node2 mps -n node3
	[[ ${lines[0]} == GPID*HOME*NODE*PID*USER*STAT*%CPU*RSS*TIME*CMD ]]
	[ "${#lines[@]}" -eq 2 ]
	run on node2 mps -u nobody --json
	echo "$output" | jq -e 'length == 1'
	kill "$p1" "$p2"
	wait "$p1" "$p2" || true
}

@test "mkill from any node; another user's mkill is refused" {
	gpid=$(on node1 mrun -d -n node2 sleep 60)
	[[ $gpid == node1.* ]]
	run as_nobody mkill "$gpid"
	[ "$status" -eq 1 ]
	[[ $output == *"$gpid: not your job (it belongs to uid 0)"* ]]
	run on node3 mkill -s KILL "$gpid"
	[ "$status" -eq 0 ]
	wait_until 5 job_gone "$gpid"
}

@test "mrun -d prints the gpid, returns at once, and the output goes to the state dir" {
	export XDG_STATE_HOME=$BATS_TEST_TMPDIR/state
	gpid=$(on node1 mrun -d -n node3 sh -c 'echo detached output; sleep 1')
	[[ $gpid == node1.* ]]
	wait_until 10 grep -q "detached output" "$XDG_STATE_HOME/migr/$gpid.out"
}

@test "-j 6 spreads over the nodes; its exit status is the first failure's" {
	run on node1 mrun -j 6 --tag sh -c "sleep 1; $where_am_i"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	[[ ${lines[0]} == "[node1."*"] 10.77.0."* ]]
	nodes=$(printf '%s\n' "${lines[@]}" | awk '{print $2}' | sort -u | wc -l)
	[ "$nodes" -eq 3 ]
	run on node1 mrun -j 3 sh -c 'exit 9'
	[ "$status" -eq 9 ]
}

@test "bad input: one clear line and the right exit status" {
	run -127 on node1 mrun no-such-command-here
	[ "$status" -eq 127 ]
	[ "$output" = "mrun: no-such-command-here: command not found" ]
	run -127 on node1 mrun /no/such/program
	[ "$status" -eq 127 ]
	[ "$output" = "mrun: /no/such/program: No such file or directory" ]
	run -126 on node1 mrun /etc/passwd
	[ "$status" -eq 126 ]
	[ "$output" = "mrun: /etc/passwd: Permission denied" ]
	run on node1 mrun -n node9 true
	[ "$status" -eq 1 ]
	[ "$output" = "mrun: node9: no such node" ]
	MIGR_SOCKET=/nonexistent/migrd.sock run "$MIGR_BUILDDIR/cli/mrun" true
	[ "$status" -eq 1 ]
	[[ $output == "mrun: cannot reach migrd at /nonexistent/migrd.sock: "* ]]
	run on node1 mrun
	[ "$status" -eq 2 ]
	run on node1 mrun -j 0 true
	[ "$status" -eq 2 ]
	run on node1 mkill node1.99999
	[ "$status" -eq 1 ]
	[ "$output" = "mkill: node1.99999: no such job" ]
	run on node1 mkill -s NOPE node1.1
	[ "$status" -eq 2 ]
	[ "$output" = "mkill: NOPE: unknown signal" ]
	run on node1 mps -n node9
	[ "$status" -eq 1 ]
	[ "$output" = "mps: node9: no such live node" ]
}

# Last: it takes node1's daemon down and brings it back.
@test "a job whose home goes down runs on; its output waits, and reaches mrun when the home is back" {
	out=$BATS_TEST_TMPDIR/out
	# writes without pause: its pipes fill while its home is away, and it waits on them
	bg_on node1 mrun -n node2 sh -c 'i=0; while :; do i=$((i+1)); echo $i; done' >"$out" 2>"$out.err"
	pid=$BG_PID
	wait_until 10 grep -q "^100$" "$out"
	gpid=$(on node2 mps --json -n node2 | jq -r '.[] | select(.cmd | contains("i=0")) | .gpid')
	cluster stop node1 --kill
	wait_until 30 grep -q "$gpid: its home node1 is down: it runs on, its output waits here" \
		"$(node_dir node2)/migrd.log"
	[ "$(on node2 mps --json -n node2 | jq -r --arg g "$gpid" '.[] | select(.gpid == $g) | .home_lost')" = true ]
	on node2 mps -n node2 | grep -qE "^$gpid +node1\? +node2 "
	# it runs on, blocked on its full pipe: not hung up
	job=$(on node2 mps --json -n node2 | jq -r --arg g "$gpid" '.[] | select(.gpid == $g) | .pid')
	kill -0 "$job"
	cluster start node1	# mrun waits up to 60 s for it, then attaches again
	wait_until 20 grep -q "$gpid: its home node1 is back: its output goes on" "$(node_dir node2)/migrd.log"
	wait_until 20 grep -q "attached again" "$out.err"
	grows "$out"
	on node1 mkill -s KILL "$gpid"
	wait "$pid" || true
	continuous "$out"
}
