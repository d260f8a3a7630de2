#!/usr/bin/env bats
# What an ordinary user can try against a node: their environment, cwd and rlimits must not
# reach root; a move must not hand their job a file they could not open; strangers at the
# peer port must not crowd out real peers or fill the log; big answers must not break links.

load lib/cluster
bats_require_minimum_version 1.5.0

setup_file() {
	require_root
	# the destination holds a move for 3 s before its restore: the swap test's window
	MIGR_CLUSTER_CONF="test-pause before-restore 3000" cluster_up 3 --no-balance
	user_tools_install
	WORK=$(mktemp -d /tmp/migr-security.XXXXXX)
	chmod 755 "$WORK"
	export WORK
}

teardown_file() {
	cluster_down
	user_tools_remove
	rm -rf "$WORK"
}

node_of() {
	on node1 mps --json | jq -r --arg g "$1" '.[] | select(.gpid == $g) | .node'
}

@test "a user's LD_PRELOAD runs only in their own program, never as root" {
	cat >"$WORK/preload.c" <<-EOF
	#include <fcntl.h>
	#include <stdio.h>
	#include <unistd.h>
	__attribute__((constructor)) static void note(void)
	{
		char line[64];
		int fd = open("$WORK/euids", O_WRONLY | O_APPEND);
		int n = snprintf(line, sizeof(line), "%d\n", (int)geteuid());
		if (fd >= 0 && write(fd, line, n) < 0)
			close(fd);
	}
	EOF
	cc -shared -fPIC -o "$WORK/preload.so" "$WORK/preload.c"
	: >"$WORK/euids"
	chmod 666 "$WORK/euids"
	run as_nobody env LD_PRELOAD="$WORK/preload.so" mrun true
	[ "$status" -eq 0 ]
	run as_nobody env LD_PRELOAD="$WORK/preload.so" mrun -n node2 true
	[ "$status" -eq 0 ]
	# loaded by mrun and by the job's program, each time as the user
	[ "$(grep -c . "$WORK/euids")" -ge 4 ]
	! grep -qvx 65534 "$WORK/euids"
}

@test "a job cannot start in a directory its user may not enter" {
	mkdir -p "$WORK/secret/inner"
	chmod 700 "$WORK/secret"
	chmod 777 "$WORK/secret/inner"
	for n in node1 node2; do
		run on node1 sh -c "cd $WORK/secret/inner && setpriv --reuid=65534 --regid=65534 \
			--clear-groups env PATH=$USER_BIN:/usr/bin:/bin LD_LIBRARY_PATH=$USER_PREFIX/lib \
			mrun -n $n sh -c 'echo ran; pwd'"
		[ "$status" -eq 1 ]
		[[ $output == *"cwd $WORK/secret/inner: Permission denied"* ]]
		[[ $output != *ran* ]]
	done
	# as root, who may enter it, the same job runs there
	run on node1 sh -c "cd $WORK/secret/inner && mrun -n node2 pwd"
	[ "$status" -eq 0 ]
	[ "$output" = "$WORK/secret/inner" ]
}

@test "a request for a hard limit above the caller's gets the caller's" {
	# NOFILE (7) at 64:128 for the caller, who asks for 64:1048576 with a hand-made request
	sock=$(node_dir node1)/migrd.sock
	for n in node1; do
		run on "$n" prlimit --nofile=64:128 setpriv --reuid=65534 --regid=65534 \
			--clear-groups env -C / "$USER_BIN/peerpoke" ctl-run-rlimit "$sock" 7 64 1048576 \
			sh -c 'ulimit -Hn; ulimit -Sn'
		[ "$status" -eq 0 ]
		[ "$output" = "$(printf '128\n64')" ]
	done
	# lowering works, as the user could do it themselves
	run on node1 prlimit --nofile=100:200 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -C / PATH="$USER_BIN:/usr/bin:/bin" LD_LIBRARY_PATH="$USER_PREFIX/lib" \
		mrun -n node2 sh -c 'ulimit -Hn; ulimit -Sn'
	[ "$output" = "$(printf '200\n100')" ]
}

@test "inside a job: no new privileges, an empty bounding set, as root and as a user" {
	for who in root nobody; do
		if [ $who = root ]; then
			run on node1 mrun -n node2 grep -E '^(NoNewPrivs|CapBnd|CapAmb)' /proc/self/status
		else
			run as_nobody mrun -n node2 grep -E '^(NoNewPrivs|CapBnd|CapAmb)' /proc/self/status
		fi
		[[ $output == *"NoNewPrivs:	1"* ]]
		[[ $output == *"CapBnd:	0000000000000000"* ]]
		[[ $output == *"CapAmb:	0000000000000000"* ]]
	done
}

@test "a path swapped for a symlink to /etc/shadow during a move: the job never gets it" {
	d=$WORK/swap
	mkdir -p "$d"
	chown 65534:65534 "$d"
	size=$(stat -c %s /etc/shadow)
	# the user's own file, of the same size and mode as /etc/shadow
	as_nobody sh -c "head -c $size /dev/zero | tr '\\0' x >$d/f && chmod $(stat -c %a /etc/shadow) $d/f"
	out=$WORK/swap.out
	bg_on node1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -C / PATH="$USER_BIN:/usr/bin:/bin" LD_LIBRARY_PATH="$USER_PREFIX/lib" \
		mrun -n here python3 -u -c "
import os, time
fd = os.open('$d/f', os.O_RDWR)
while True:
    print(os.pread(fd, 16, 0)); time.sleep(0.1)" >"$out"
	mrun_pid=$BG_PID
	wait_until 10 grep -q xxxx "$out"
	gpid=$(on node1 mps --json | jq -r '.[] | select(.cmd | contains("pread")) | .gpid')
	# while the destination holds the images, the user swaps the path
	(
		wait_until 20 grep -q "$gpid: test: pausing before restore" "$(node_dir node2)/migrd.log"
		as_nobody sh -c "mv $d/f $d/f.real && ln -s /etc/shadow $d/f"
	) &
	swapper=$!
	run as_nobody mmigrate "$gpid" node2
	wait "$swapper"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"criu restore failed on node2"* ]]
	[[ $output == *"Permission denied"* ]]
	# the job lives on where it was, still reading its own file
	[ "$(node_of "$gpid")" = node1 ]
	: >"$out"
	wait_until 10 grep -q xxxx "$out"
	! grep -q "root:" "$out"
	kill "$mrun_pid"
	wait "$mrun_pid" || true
}

@test "2000 idle strangers at the peer port: a restarted node rejoins and runs jobs both ways" {
	log=$(node_dir node1)/migrd.log
	before=$(wc -l <"$log")
	on node3 "$MIGR_BUILDDIR/tests/tools/peerpoke" flood 10.77.0.1 7470 2000 25 \
		>"$WORK/flood.out" &
	flood=$!
	sleep 3
	cluster stop node2
	cluster start node2
	wait_until 20 sh -c "[ \$($CLUSTER run node1 mctl nodes --json |
		jq '[.[] | select(.state == \"alive\")] | length') -eq 3 ]"
	run on node1 mrun -n node2 echo from-node1
	[ "$output" = from-node1 ]
	run on node2 mrun -n node1 echo from-node2
	[ "$output" = from-node2 ]
	wait "$flood"
	cat "$WORK/flood.out"
	# the flood was real: thousands of connections made and refused
	connects=$(sed -n 's/.*: \([0-9]*\) connects.*/\1/p' "$WORK/flood.out")
	[ "$connects" -ge 2000 ]
	# and cost a few log lines, not one per connection
	after=$(wc -l <"$log")
	[ $((after - before)) -lt 40 ]
	grep -q "refused .* connections" "$log"
}

@test "2000 jobs with long command lines on one node: listed from another node, then killed" {
	long=$(printf 'x%.0s' $(seq 200))
	seq 2000 | on node1 env XDG_STATE_HOME="$WORK" LD_LIBRARY_PATH="$USER_PREFIX/lib" \
		xargs -P 16 -I{} "$USER_BIN/mrun" -d -n node2 sh -c 'sleep 600' "$long" {} \
		>"$WORK/gpids"
	[ "$(sort -u "$WORK/gpids" | wc -l)" -eq 2000 ]
	run on node3 mps --json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq '[.[] | select(.node == "node2")] | length')" -eq 2000 ]
	# every node is still whole
	[ "$(on node3 mctl nodes --json | jq '[.[] | select(.state == "alive")] | length')" -eq 3 ]
	xargs -P 8 -n 50 "$CLUSTER" run node3 mkill <"$WORK/gpids"
	left() {
		on node3 mps --json | jq '[.[] | select(.cmd | contains("sleep 600"))] | length'
	}
	wait_until 60 sh -c "[ \$($CLUSTER run node3 mps --json |
		jq '[.[] | select(.cmd | contains(\"sleep 600\"))] | length') -eq 0 ]" || {
		left
		false
	}
}
