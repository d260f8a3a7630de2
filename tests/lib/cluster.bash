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
