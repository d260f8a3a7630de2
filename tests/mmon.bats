#!/usr/bin/env bats
# mmon on a real three-node cluster: one frame as plain text (--once, or no terminal), and
# the full screen as a person sees it, in a tmux server of the suite's own: the rows drawn,
# a sort key that reorders them, a resize, a daemon that is not there, q to quit.

load lib/cluster

setup_file() {
	require_root
	cluster_up 3 --no-balance
	# a job that uses no CPU, so it stays on node2 whatever the balancer thinks
	GPID=$(on node1 mrun -d -n node2 sleep 600)
	export GPID
	# tmux's own server, found by this name only: teardown kills it and nothing else; its
	# socket under the suite's directory, as tmux leaves the file behind when it exits
	export TMUX_NAME=migrtest-$$ TMUX_TMPDIR=$BATS_FILE_TMPDIR
	wait_until 10 node_jobs_seen node2 1
}

teardown() {
	tmux -L "$TMUX_NAME" kill-server 2>/dev/null || true
}

teardown_file() {
	tmux -L "$TMUX_NAME" kill-server 2>/dev/null || true
	cluster_down
}

# node_jobs_seen NODE N: node1 knows NODE runs N jobs (gossip brings it within a period)
node_jobs_seen() {
	[ "$(on node1 mctl nodes --json | jq --arg n "$1" '.[] | select(.name == $n) | .jobs')" = "$2" ]
}

# ---- one frame as text ----

@test "mmon --once lists the three nodes alive and the running job with its node" {
	run on node1 mmon --once -s name
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "mmon: 3 nodes, 3 alive, 1 job, as node1 sees them; sorted by name" ]]
	[[ ${lines[1]} == "NODE "*" STATE "*" ADMIN "*" LOAD "*" CPUS "*" MEM_FREE "*" JOBS "* ]]
	[[ ${lines[2]} =~ ^node1\*\ +alive\ .*\ 0\ \[.*\]$ ]]
	[[ ${lines[3]} =~ ^node2\ +alive\ .*\ 1\ \[.*\]$ ]]
	[[ ${lines[4]} =~ ^node3\ +alive\ .*\ 0\ \[.*\]$ ]]
	[[ ${lines[5]} == "GPID "*" NODE "*" %CPU "*" CMD" ]]
	[[ ${lines[6]} =~ ^$GPID\ +node2\ +root\ .*sleep\ 600$ ]]
	[ "${#lines[@]}" -eq 7 ]	# bats drops the empty line between the tables
}

@test "without a terminal mmon prints the same one frame; -s orders the nodes" {
	run on node1 mmon -s jobs	# run's stdout is a pipe
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == *"sorted by jobs" ]]
	# node2 has the job: first; the others by name
	[[ ${lines[2]} == node2\ * && ${lines[3]} == node1\** && ${lines[4]} == node3\ * ]]
	[[ ${lines[6]} == "$GPID "* ]]
}

@test "mmon --once with no daemon: one line naming the socket, exit 1" {
	run env MIGR_SOCKET="$BATS_TEST_TMPDIR/none.sock" "$MIGR_BUILDDIR/cli/mmon" --once
	[ "$status" -eq 1 ]
	[ "$output" = "mmon: cannot reach migrd at $BATS_TEST_TMPDIR/none.sock: No such file or directory" ]
}

@test "a bad option or argument: one line and exit 2" {
	run "$MIGR_BUILDDIR/cli/mmon" --bogus
	[ "$status" -eq 2 ]
	[ "$output" = "mmon: --bogus: unknown option (mmon --help)" ]
	run "$MIGR_BUILDDIR/cli/mmon" -x
	[ "$status" -eq 2 ]
	[ "$output" = "mmon: -x: unknown option (mmon --help)" ]
	run "$MIGR_BUILDDIR/cli/mmon" -d 0
	[ "$status" -eq 2 ]
	[ "$output" = "mmon: -d: want seconds from 0.2 to 3600, not '0'" ]
	run "$MIGR_BUILDDIR/cli/mmon" -s cpu
	[ "$status" -eq 2 ]
	[ "$output" = "mmon: -s: want load, mem, jobs or name, not 'cpu'" ]
	run "$MIGR_BUILDDIR/cli/mmon" --once extra
	[ "$status" -eq 2 ]
	[ "$output" = "mmon: unexpected argument 'extra' (mmon --help)" ]
}

@test "--help says what the man page says: every option and key" {
	run "$MIGR_BUILDDIR/cli/mmon" --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "usage: mmon [-d SECONDS] [-s load|mem|jobs|name] [--once]" ]]
	[[ $output == *"Keys: q quits; c, m, j, n sort by load, memory, jobs, name."* ]]
	local page=$MIGR_SRCDIR/man/mmon.1 opt key
	for opt in d s; do
		grep -q "^\.It Fl $opt " "$page"
	done
	grep -q '^\.It Fl \\-once' "$page"
	for key in q c m j n; do
		grep -q "^\.It Ic $key\$" "$page"
	done
}

# ---- the full screen, in tmux ----

# start_screen [ENV=VALUE...] -- CMD...: CMD full screen in a detached 120x40 tmux session
start_screen() {
	tmux -L "$TMUX_NAME" -f /dev/null new-session -d -s mmon -x 120 -y 40 "$*"
}

# screen: the session's screen, as a person reads it, one line a row
screen() {
	tmux -L "$TMUX_NAME" capture-pane -p -t mmon | sed 's/ *$//'
}

screen_has() {
	screen | grep -q -- "$1"
}

# row_of PATTERN: the screen row (from 1) of the first line matching PATTERN
row_of() {
	screen | grep -n -m1 -- "$1" | cut -d: -f1
}

session_gone() {
	! tmux -L "$TMUX_NAME" has-session -t mmon 2>/dev/null
}

@test "full screen: the node rows and the job appear, a sort key reorders them, q quits" {
	start_screen "$CLUSTER run node1 mmon -s name"
	wait_until 10 screen_has '^node3 '
	screen
	screen_has '^mmon: 3 nodes, 3 alive, 1 job, as node1 sees them; sorted by name  *[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$'
	[ "$(row_of '^node1\*')" -lt "$(row_of '^node2 ')" ]
	[ "$(row_of '^node2 ')" -lt "$(row_of '^node3 ')" ]
	screen_has "^$GPID  *node2 "
	# the keys' line is the screen's last row
	[ "$(screen | sed -n 40p)" = "q quit  sort: c load  m free memory  j jobs  n name" ]

	tmux -L "$TMUX_NAME" send-keys -t mmon j
	wait_until 5 screen_has 'sorted by jobs'
	screen
	# node2, with the job, now comes first
	[ "$(row_of '^node2 ')" -lt "$(row_of '^node1\*')" ]
	[ "$(row_of '^node1\*')" -lt "$(row_of '^node3 ')" ]

	tmux -L "$TMUX_NAME" send-keys -t mmon n
	wait_until 5 screen_has 'sorted by name'
	[ "$(row_of '^node1\*')" -lt "$(row_of '^node2 ')" ]

	tmux -L "$TMUX_NAME" send-keys -t mmon q
	wait_until 5 session_gone
}

@test "full screen: a resized terminal is drawn again to its new size" {
	start_screen "$CLUSTER run node1 mmon"
	wait_until 10 screen_has '^node3 '
	tmux -L "$TMUX_NAME" resize-window -t mmon -x 70 -y 12
	wait_until 5 eval '[ "$(screen | sed -n 12p)" = "q quit  sort: c load  m free memory  j jobs  n name" ]'
	screen
	[ "$(screen | wc -l)" -eq 12 ]
	# the title is too long for the clock beside it: no clock rather than a clock over it
	screen_has '^mmon: 3 nodes, 3 alive, 1 job, as node1 sees them; sorted by load$'
	# no line is wider than the window: the bar shrank, the long lines were cut
	[ "$(screen | awk '{ if (length($0) > w) w = length($0) } END { print w }')" -le 70 ]
	screen_has '^node3 '
	tmux -L "$TMUX_NAME" send-keys -t mmon q
	wait_until 5 session_gone
}

@test "full screen: no daemon is a line saying so, retried until one answers" {
	local sock=$BATS_TEST_TMPDIR/later.sock
	start_screen "MIGR_SOCKET=$sock $MIGR_BUILDDIR/cli/mmon -d 0.5"
	wait_until 10 screen_has "cannot reach migrd at $sock"
	screen
	screen_has 'retrying every 0.5 s'
	sleep 2
	! session_gone	# still there, still trying
	# the daemon "comes back": node1's socket appears where mmon looks
	ln -s "$(node_dir node1)/migrd.sock" "$sock"
	wait_until 10 screen_has '^node3 '
	! screen_has 'cannot reach migrd'
	# and goes away again: said so, the last figures kept below with their time
	rm "$sock"
	wait_until 10 screen_has "cannot reach migrd at $sock"
	screen
	screen_has '^the figures below are from [0-9][0-9]:[0-9][0-9]:[0-9][0-9]$'
	screen_has '^node3 '
	tmux -L "$TMUX_NAME" send-keys -t mmon q
	wait_until 5 session_gone
}

@test "full screen: a terminal curses does not know is one line and exit 1, not a crash" {
	start_screen "TERM=bogus $MIGR_BUILDDIR/cli/mmon; echo exit=\$?; sleep 60"
	wait_until 5 screen_has '^exit='
	screen
	screen_has '^mmon: cannot drive the terminal (TERM=bogus); mmon --once prints one frame$'
	screen_has '^exit=1$'
}
