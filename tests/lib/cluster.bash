# tests/lib/cluster.bash: what the bats suites share. A suite brings a cluster up in
# setup_file and takes it down in teardown_file, which bats runs even when a test fails,
# so nothing is left behind.

MIGR_SRCDIR=${MIGR_SRCDIR:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
MIGR_BUILDDIR=${MIGR_BUILDDIR:-$MIGR_SRCDIR}
export MIGR_SRCDIR MIGR_BUILDDIR
export MIGR_CLUSTER_DIR=${MIGR_CLUSTER_DIR:-/run/migr-cluster}
CLUSTER=$MIGR_SRCDIR/scripts/cluster

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, cgroups, CRIU)"
}

cluster() {
	"$CLUSTER" "$@"
}

cluster_up() {
	"$CLUSTER" down
	"$CLUSTER" up "$@"
}

cluster_down() {
	"$CLUSTER" down
}

# on NODE CMD...: CMD on that node, with the build tree's tools first on PATH
on() {
	"$CLUSTER" run "$@"
}

# bg_on NODE CMD...: CMD on that node in the background; BG_PID is CMD's own pid (the
# script execs down to it), so signals sent to BG_PID reach CMD itself
bg_on() {
	"$CLUSTER" run "$@" &
	BG_PID=$!
}

node_dir() {
	echo "$MIGR_CLUSTER_DIR/$1"
}

cluster_key() {
	echo "$MIGR_CLUSTER_DIR/cluster.key"
}

# wait_until SECONDS CMD...: polls CMD (a command or a function) until it succeeds
wait_until() {
	local timeout=$1 deadline
	shift
	deadline=$((SECONDS + timeout))
	until "$@"; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "wait_until: gave up after ${timeout}s: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# The tools as an ordinary user runs them. The build tree may sit under a directory other
# users cannot enter (a fresh clone in a 0700 home), so the suites that act as another user
# install the tools into a world-readable prefix of their own and take it away after.
# user_tools_install: sets USER_BIN (mrun, mps, ... and the test tools)
user_tools_install() {
	USER_PREFIX=$(mktemp -d /tmp/migr-user-tools.XXXXXX)
	chmod 755 "$USER_PREFIX"
	make -s -C "$MIGR_BUILDDIR" install prefix="$USER_PREFIX" >"$USER_PREFIX.log" 2>&1 ||
		{ cat "$USER_PREFIX.log" >&2; return 1; }
	rm -f "$USER_PREFIX.log"
	cp "$MIGR_BUILDDIR/tests/tools/peerpoke" "$MIGR_BUILDDIR/tests/tools/memjob" \
		"$USER_PREFIX/bin/"
	chmod -R go+rX "$USER_PREFIX"
	export USER_PREFIX USER_BIN=$USER_PREFIX/bin
}

user_tools_remove() {
	if [ -n "${USER_PREFIX:-}" ] && [ -d "$USER_PREFIX" ]; then
		rm -rf "$USER_PREFIX"
	fi
}

# as_user UID NODE CMD...: CMD on NODE as that uid (and gid), with the installed tools
# first on PATH, from / (a job starts in its mrun's cwd, which the user must be able to
# enter, and the tests' own cwd may be a clone under a 0700 home)
as_user() {
	local uid=$1 node=$2
	shift 2
	on "$node" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env -C / PATH="$USER_BIN:/usr/bin:/bin" LD_LIBRARY_PATH="$USER_PREFIX/lib" "$@"
}

# as_nobody CMD...: CMD on node1 as uid 65534
as_nobody() {
	as_user 65534 node1 "$@"
}

# ---- jobs as mps lists them, and their output ----

# job_field GPID FIELD: that field of the job in `mps --json` from node1
job_field() {
	on node1 mps --json | jq -r --arg g "$1" --arg f "$2" '.[] | select(.gpid == $g) | .[$f]'
}

# copies_of GPID: how many times mps lists the job (1 when all is well)
copies_of() {
	on node1 mps --json | jq --arg g "$1" '[.[] | select(.gpid == $g)] | length'
}

# counter FILE: the counter lines of a memjob or counter job, as numbers
counter() {
	grep -Eo '^[0-9]+' "$1"
}

# continuous FILE: the numbers in FILE are 1..N with no gap and no repeat
continuous() {
	counter "$1" >"$1.n"
	n=$(wc -l <"$1.n")
	[ "$n" -gt 0 ] && seq 1 "$n" | cmp -s - "$1.n"
}

# grows FILE: FILE gains lines within 10 s
grows() {
	local n
	n=$(wc -l <"$1")
	wait_until 10 sh -c "[ \$(wc -l < $1) -gt $((n + 1)) ]"
}

# pids_of PATTERN: live processes whose command line holds PATTERN, which names something
# of this test's alone (its gpid, its move's directory); zombies left out
pids_of() {
	local p
	for p in $(pgrep -f -- "$1"); do
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && echo "$p"
	done
	true
}
