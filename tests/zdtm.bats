#!/usr/bin/env bats
# CRIU's own zdtm static tests, run as migr jobs and moved three times (lazy to node2, lazy
# back to node1, copy to node2): each test sets up some kernel state, waits for SIGTERM,
# then checks that the state is as it left it and writes PASS or FAIL. A peer's suite
# checks what a move keeps far better than tests of our own could.
#
# The tests come from the CRIU source that scripts/bootstrap fetched and built CRIU from.
# Left out: tests that need privileges a job never has (caps, setuid, fanotify, groups,
# seccomp, mount namespaces); tests that keep /proc/self/maps open (shm, shm-unaligned:
# zdtm's get_mapping_dev() never closes it), since a job's /proc files name processes of
# its node and cannot move (mmigrate(1) says so); and one that this one-machine cluster
# cannot pass where a real one would: a named FIFO holding data is the same FIFO at both
# ends here, and the source's stopped copy still holds it while the destination restores.

load lib/cluster
bats_require_minimum_version 1.5.0

# NAME[:ARGS] per group; ARGS are the test's options beyond --pidfile and --outfile, with
# @ standing for the test's own scratch name
MEMORY="maps00:--filename=@ mprotect00 vdso00 fpu00 mmx00 selfexe00 busyloop00 sleeping00"
PROCESSES="pthread00 pthread01 zombie00 stopped session00 pdeath_sig futex env00:--envname=ZDTM_ENV
	rlimits00 oom_score_adj"
SIGNALS="sigaltstack sigpending posix_timers signalfd00 timerfd eventfs00 epoll"
FILES="write_read00:--filename=@ file_shared:--filename=@ cwd00:--dirname=@
	inotify00:--dirname=@ pipe00 pipe01"
IPC="sem msgque shm-mp"
SOCKETS="sockets01 sk-unix-rel:--filename=@ deleted_unix_sock:--filename=@
	sockets_dgram:--filename=@ socket_listen socket_listen6 socket_udp"

setup_file() {
	require_root
	local src
	src=$(ls -d /usr/local/src/migr-criu/criu-*/test/zdtm 2>/dev/null | tail -n1)
	[ -d "$src/static" ] || {
		echo "no CRIU source under /usr/local/src/migr-criu: run scripts/bootstrap" >&2
		return 1
	}
	local names=() t
	for t in $MEMORY $PROCESSES $SIGNALS $FILES $IPC $SOCKETS; do names+=("${t%%:*}"); done
	make -s -C "$src/lib" >/dev/null
	make -s -C "$src/static" "${names[@]}" >/dev/null
	export ZDTM_DIR=$BATS_FILE_TMPDIR/zdtm
	mkdir -p "$ZDTM_DIR"
	for t in "${names[@]}"; do cp "$src/static/$t" "$ZDTM_DIR/"; done
	export XDG_STATE_HOME=$BATS_FILE_TMPDIR/state
	cluster_up 2 --no-balance
}

teardown_file() {
	cluster_down
}

# zdtm_moved NAME[:ARGS]: the test as a job, moved three times, then told to check; prints
# NAME and PASS, or what went wrong
zdtm_moved() {
	local t=${1%%:*} args= gpid out step
	[ "$t" = "$1" ] || args=${1#*:}
	args=${args//@/$t.test}
	# the job's shell starts the test (which daemonizes once set up), sends it the SIGTERM
	# that makes it check once the file $t.stop appears, waits for it and shows its
	# verdict. Not a signal to the job: migr-init passes that to the shell's process group,
	# where some tests (session00) leave processes that must not get it
	gpid=$(on node1 mrun -d -n node1 sh -c "cd $ZDTM_DIR && ./$t --pidfile=$t.pid \
		--outfile=$t.out $args || exit 1; pid=\$(cat $t.pid); stopped=
		while kill -0 \$pid 2>/dev/null; do
			if [ -e $t.stop ] && [ -z \"\$stopped\" ]; then kill -TERM \$pid; stopped=1; fi
			sleep 0.1
		done; cat $t.out")
	if ! wait_until 10 test -s "$ZDTM_DIR/$t.pid"; then
		echo "$t: did not start: $(tail -n 3 "$ZDTM_DIR/$t.out"* 2>/dev/null)"
		return
	fi
	for step in "node2 lazy" "node1 lazy" "node2 copy"; do
		set -- $step
		if ! out=$(on node1 mmigrate --mode "$2" "$gpid" "$1" 2>&1); then
			echo "$t: $2 move to $1 failed: $out"
			on node1 mkill -s KILL "$gpid" >/dev/null 2>&1
			return
		fi
	done
	touch "$ZDTM_DIR/$t.stop"
	gone() { ! on node1 mps --json | jq -e --arg g "$gpid" '.[] | select(.gpid == $g)' >/dev/null; }
	wait_until 20 gone || { echo "$t: did not end"; return; }
	out=$(tail -n 5 "$XDG_STATE_HOME/migr/$gpid.out")
	if grep -q '^[0-9:. ]*[0-9]*: PASS$' <<<"$out"; then
		echo "$t: PASS"
	else
		echo "$t: $out"
	fi
}

# zdtm_group TESTS...: every one moved and passed
zdtm_group() {
	local t r bad=0
	for t in "$@"; do
		r=$(zdtm_moved "$t")
		echo "$r"
		[[ $r == *": PASS" ]] || bad=1
	done
	[ "$bad" -eq 0 ]
}

@test "zdtm: memory, mappings, the FPU and the vDSO survive three moves" {
	zdtm_group $MEMORY
}

@test "zdtm: threads, children (a stopped one stays stopped), zombies, sessions survive" {
	zdtm_group $PROCESSES
}

@test "zdtm: signal state, timers, signalfd, timerfd, eventfd and epoll survive" {
	zdtm_group $SIGNALS
}

@test "zdtm: open files, their offsets, deleted files, inotify and pipes survive" {
	zdtm_group $FILES
}

@test "zdtm: System V semaphores, message queues and shared memory move with the job" {
	zdtm_group $IPC
}

@test "zdtm: unix sockets within the job, listening TCP and UDP sockets survive" {
	zdtm_group $SOCKETS
}

@test "a job its user stopped is still stopped after lazy and copy moves, and then resumes" {
	out() { wc -l <"$XDG_STATE_HOME/migr/$gpid.out"; }
	state() { on node1 mps --json | jq -r --arg g "$gpid" '.[] | select(.gpid == $g) | .state'; }
	stopped() { [ "$(state)" = T ]; }
	gpid=$(on node1 mrun -d -n node1 sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done')
	wait_until 10 test -s "$XDG_STATE_HOME/migr/$gpid.out"
	on node1 mkill -s STOP "$gpid"
	wait_until 10 stopped
	for step in "node2 lazy" "node1 copy"; do
		set -- $step
		on node1 mmigrate --mode "$2" "$gpid" "$1"
		wait_until 5 stopped	# mps shows the state its node sampled last
		n=$(out)
		sleep 0.5
		[ "$(out)" -eq "$n" ]
	done
	on node1 mkill -s CONT "$gpid"
	n=$(out)
	wait_until 10 sh -c "[ \$(wc -l <$XDG_STATE_HOME/migr/$gpid.out) -gt $((n + 3)) ]"
	on node1 mkill -s KILL "$gpid"
}

@test "signals sent while a job moves wait for the move, in order, and none is lost" {
	out() { wc -l <"$XDG_STATE_HOME/migr/$gpid.out"; }
	state() { on node1 mps --json | jq -r --arg g "$gpid" '.[] | select(.gpid == $g) | .state'; }
	gpid=$(on node1 mrun -d -n node1 "$MIGR_BUILDDIR/tests/tools/memjob" 1024)
	wait_until 60 grep -q "^2 ok" "$XDG_STATE_HOME/migr/$gpid.out"
	# STOP then CONT during a copy move (a second or more for 1 GiB): the job must end up
	# running, on node2, whole
	on node1 mmigrate --mode copy "$gpid" node2 &
	mig=$!
	sleep 0.3
	on node1 mkill -s STOP "$gpid"
	on node1 mkill -s CONT "$gpid"
	grep -q "$gpid: signal 19 waits for the move" "$(node_dir node1)/migrd.log"
	grep -q "$gpid: signal 18 waits for the move" "$(node_dir node1)/migrd.log"
	wait "$mig"
	[ "$(state)" != T ]
	n=$(out)
	wait_until 10 sh -c "[ \$(wc -l <$XDG_STATE_HOME/migr/$gpid.out) -gt $((n + 1)) ]"
	! grep -q BAD "$XDG_STATE_HOME/migr/$gpid.out"
	on node1 mkill -s KILL "$gpid"
}
