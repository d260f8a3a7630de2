#!/usr/bin/env bats
# What `make install` ships, and how it runs as a service; no test cluster needed.
# `make install DESTDIR=...` into a scratch directory: every file a Debian package would
# ship is there; the example configuration passes `migrd -n`; the unit passes
# `systemd-analyze verify` (where systemd-analyze exists); the bash completions complete
# each tool's options, and node names and job ids from stubs of mctl and mps. Then migrd
# itself (as root): READY=1 and STOPPING=1 on $NOTIFY_SOCKET, priorities for the journal.

setup_file() {
	export BUILD=${MIGR_BUILDDIR:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
	export SRC=${MIGR_SRCDIR:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
	export DEST=$BATS_FILE_TMPDIR/dest
	# run from `make check` or not, this make is a make of its own
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$BUILD" install DESTDIR="$DEST" \
		>"$BATS_FILE_TMPDIR/install.log" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/install.log" >&3; return 1; }
	# the installation directories as configured, make's variables expanded
	local v
	for v in prefix bindir sbindir libdir includedir mandir docdir pkglibexecdir \
		pkgconfigdir systemdsystemunitdir bashcompletiondir datadir; do
		export "$v=$(make_var "$v")"
	done
}

# make_var NAME: the value of make variable NAME in the build's Makefile
make_var() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$BUILD" -f Makefile \
		-f <(printf 'migr-print-var:\n\t@echo $(%s)\n' "$1") migr-print-var
}

setup() {
	MIGRD=$BUILD/migrd/migrd
}

# ---- the files ----

@test "make install DESTDIR installs every file a package ships" {
	local f missing=()
	for f in "$sbindir/migrd" \
		"$bindir"/{mrun,mps,mmigrate,mkill,mctl,mmon} \
		"$pkglibexecdir"/{migr-init,migr-move} \
		"$libdir/libmigr.so" "$libdir/libmigr.so.0" \
		"$includedir/migr.h" "$pkgconfigdir/libmigr.pc" \
		"$mandir"/man1/{mrun,mps,mmigrate,mkill,mctl,mmon}.1 "$mandir/man3/libmigr.3" \
		"$mandir/man5/migrd.conf.5" "$mandir/man8/migrd.8" \
		"$docdir/examples/migrd.conf"; do
		[ -e "$DEST$f" ] || missing+=("$f")
	done
	if [ -n "$systemdsystemunitdir" ]; then
		[ -e "$DEST$systemdsystemunitdir/migrd.service" ] ||
			missing+=("$systemdsystemunitdir/migrd.service")
	fi
	if [ -n "$bashcompletiondir" ]; then
		for f in mrun mps mmigrate mkill mctl mmon; do
			[ -e "$DEST$bashcompletiondir/$f" ] || missing+=("$bashcompletiondir/$f")
		done
	fi
	[ "${#missing[@]}" -eq 0 ] || { printf 'missing: %s\n' "${missing[@]}"; false; }
	for f in "$sbindir/migrd" "$bindir"/{mrun,mps,mmigrate,mkill,mctl,mmon} \
		"$pkglibexecdir"/{migr-init,migr-move}; do
		[ -x "$DEST$f" ]
	done
}

@test "every man page of the tree is installed, and every command's page has its program" {
	local page name sec n=0
	for page in "$SRC"/man/*.[1-8]; do
		name=$(basename "$page")
		sec=${name##*.}
		[ -f "$DEST$mandir/man$sec/$name" ] || { echo "not installed: $name"; false; }
		case $sec in
		1) [ -x "$DEST$bindir/${name%.1}" ] || { echo "no program for $name"; false; } ;;
		8) [ -x "$DEST$sbindir/${name%.8}" ] || { echo "no program for $name"; false; } ;;
		esac
		n=$((n + 1))
	done
	[ "$n" -ge 8 ]
}

@test "the installed library links: a program built with pkg-config's flags runs" {
	command -v cc >/dev/null || skip "no C compiler"
	local pc=$DEST$pkgconfigdir
	printf '#include <migr.h>\nint main(void) { return migr_strerror(0) ? 0 : 1; }\n' \
		>"$BATS_TEST_TMPDIR/t.c"
	# the .pc names the real prefix: point it at DESTDIR
	run env PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$DEST" \
		pkg-config --cflags --libs libmigr
	[ "$status" -eq 0 ]
	cc -o "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/t.c" $output
	LD_LIBRARY_PATH=$DEST$libdir "$BATS_TEST_TMPDIR/t"
}

@test "make uninstall DESTDIR leaves no file behind" {
	local d=$BATS_TEST_TMPDIR/again
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$BUILD" install DESTDIR="$d" \
		>/dev/null 2>&1
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$BUILD" uninstall DESTDIR="$d" \
		>/dev/null 2>&1
	run find "$d" ! -type d
	[ "$status" -eq 0 ]
	[ -z "$output" ] || { echo "left: $output"; false; }
}

# ---- the example configuration ----

@test "the example configuration passes migrd -n" {
	run "$MIGRD" -n -c "$DEST$docdir/examples/migrd.conf"
	[ "$status" -eq 0 ]
	[[ $output == *"node node1"* ]]
}

@test "the example configuration names every keyword, and uncommented it is valid still" {
	local example=$DEST$docdir/examples/migrd.conf kw
	sed 's/^#\([a-z]\)/\1/' "$example" >"$BATS_TEST_TMPDIR/all.conf"
	run "$MIGRD" -n -c "$BATS_TEST_TMPDIR/all.conf"
	[ "$status" -eq 0 ]
	# every keyword migrd -n prints is shown in the example, set or commented out
	for kw in $(printf '%s\n' "$output" | cut -d' ' -f1 | sort -u); do
		grep -Eq "^#?$kw " "$example" || { echo "not in the example: $kw"; false; }
	done
}

# ---- the systemd unit ----

@test "the unit runs the installed migrd in the foreground, as a notify service" {
	[ -n "$systemdsystemunitdir" ] || skip "configured --with-systemdsystemunitdir=no"
	local unit=$DEST$systemdsystemunitdir/migrd.service
	! grep -n '@[a-z_]*@' "$unit"
	grep -qx "ExecStart=$sbindir/migrd -f" "$unit"
	grep -qx 'Type=notify' "$unit"
	grep -qx 'After=network-online.target' "$unit"
	grep -qx 'Wants=network-online.target' "$unit"
	grep -qx 'Restart=on-failure' "$unit"
	grep -qx 'KillMode=process' "$unit"
	grep -qx 'WantedBy=multi-user.target' "$unit"
}

@test "systemd-analyze verify accepts the installed unit" {
	[ -n "$systemdsystemunitdir" ] || skip "configured --with-systemdsystemunitdir=no"
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
	# verify checks that ExecStart's binary exists: point it into DESTDIR
	mkdir "$BATS_TEST_TMPDIR/units"
	sed "s|^ExecStart=$sbindir/|ExecStart=$DEST$sbindir/|" \
		"$DEST$systemdsystemunitdir/migrd.service" >"$BATS_TEST_TMPDIR/units/migrd.service"
	# and that the man pages of Documentation= exist: the installed ones
	run env MANPATH="$DEST$mandir" systemd-analyze verify "$BATS_TEST_TMPDIR/units/migrd.service"
	echo "$output"
	[ "$status" -eq 0 ]
	# it only warns of unknown keys or bad values: no word about our unit at all
	! grep -q 'migrd' <<<"$output"
}

# ---- the bash completions ----

# complete WORD...: the completions bash offers for the command line WORD... (the last
# word is being completed), one a line, sorted, with the installed completion sourced in a
# shell of its own; PATH as the caller has it.
complete_line() {
	local script=$DEST$bashcompletiondir/${1##*/}
	bash --norc --noprofile -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		spec=$(complete -p "${1##*/}" 2>/dev/null) || { echo "no completion for $1"; exit 1; }
		fn=${spec#*-F }
		fn=${fn%% *}
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort -u' complete "$script" "$@"
}

# stub_cluster: mctl and mps stubs on PATH that print a fixed cluster as JSON
stub_cluster() {
	local bin=$BATS_TEST_TMPDIR/stub
	mkdir -p "$bin"
	cat >"$bin/mctl" <<-'EOF'
	#!/bin/sh
	[ "$1" = --help ] && exec "$REAL/mctl" --help
	[ "$1 $2" = "nodes --json" ] || exit 2
	cat <<'JSON'
	[
	  {"name": "node1", "addr": "10.0.0.1", "port": 7470, "state": "alive", "load": 0.000, "self": true},
	  {"name": "node2", "addr": "10.0.0.2", "port": 7470, "state": "suspect", "load": 1.000, "self": false},
	  {"name": "node3", "addr": "10.0.0.3", "port": 7470, "state": "dead", "load": 0.000, "self": false}
	]
	JSON
	EOF
	cat >"$bin/mps" <<-'EOF'
	#!/bin/sh
	[ "$1" = --help ] && exec "$REAL/mps" --help
	[ "$1" = --json ] || exit 2
	cat <<'JSON'
	[
	  {"gpid": "node1.7", "home": "node1", "node": "node2", "pid": 12, "user": "ann", "cmd": "sim"},
	  {"gpid": "node2.1", "home": "node2", "node": "node2", "pid": 13, "user": "bob", "cmd": "a \"b\""}
	]
	JSON
	EOF
	chmod +x "$bin/mctl" "$bin/mps"
	export REAL=$DEST$bindir
	PATH=$bin:$DEST$bindir:$PATH
}

# without_jq: a PATH with the stubs and the installed tools and no jq
without_jq() {
	local bin=$BATS_TEST_TMPDIR/nojq t
	mkdir -p "$bin"
	for t in bash sh cat grep sed sort head timeout env mkdir rm; do
		ln -sf "$(command -v "$t")" "$bin/$t"
	done
	PATH=$BATS_TEST_TMPDIR/stub:$DEST$bindir:$bin
	! command -v jq
}

# the installed tools run with the installed library
installed_tools() {
	PATH=$DEST$bindir:$PATH
	export LD_LIBRARY_PATH=$DEST$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
}

setup_completion() {
	[ -n "$bashcompletiondir" ] || skip "configured --with-bashcompletiondir=no"
	installed_tools
}

@test "completion: every tool is completed, by one script" {
	setup_completion
	local t
	for t in mps mmigrate mkill mctl mmon; do
		cmp "$DEST$bashcompletiondir/mrun" "$DEST$bashcompletiondir/$t"
	done
	run bash --norc -c 'source "$1" && complete -p mrun mps mmigrate mkill mctl mmon' x \
		"$DEST$bashcompletiondir/mrun"
	[ "$status" -eq 0 ]
	[ "$(grep -c -- '-F _migr_complete' <<<"$output")" -eq 6 ]
}

@test "completion: options come from each tool's --help" {
	setup_completion
	run complete_line mmigrate --m
	[ "$output" = "--mode" ]
	run complete_line mps --
	[ "$output" = "$(printf '%s\n' --json --why)" ]
	run complete_line mps -
	[ "$output" = "$(printf '%s\n' --json --why -m -n -u)" ]
	run complete_line mrun --
	[ "$output" = "$(printf '%s\n' --attach --help --no-migrate --tag)" ]
	run complete_line mkill -
	[ "$output" = "-s" ]
	run complete_line mctl nodes --j
	[ "$output" = "--json" ]
	run complete_line mmon -
	[ "$output" = "$(printf '%s\n' --once -d -s)" ]
}

@test "completion: option arguments and mctl's commands" {
	setup_completion
	run complete_line mmigrate --mode ''
	[ "$output" = "$(printf '%s\n' copy lazy)" ]
	run complete_line mmigrate --mode = l
	[ "$output" = "lazy" ]
	run complete_line mmigrate --mode=c
	[ "$output" = "--mode=copy" ]
	run complete_line mkill -s TE
	[ "$output" = "TERM" ]
	run complete_line mkill -s SIGK
	[ "$output" = "SIGKILL" ]
	run complete_line mps -u roo
	[ "$output" = "root" ]
	run complete_line mrun -j ''
	[ -z "$output" ]
	run complete_line mctl ''
	[ "$output" = "$(printf '%s\n' balance drain keygen leave nodes status undrain)" ]
	run complete_line mctl drain --
	[ "$output" = "$(printf '%s\n' --help --json --timeout --wait)" ]
	run complete_line mctl balance ''
	[ "$output" = "$(printf '%s\n' off on)" ]
	run complete_line mmon -s ''
	[ "$output" = "$(printf '%s\n' jobs load mem name)" ]
	run complete_line mmon -d ''
	[ -z "$output" ]
	run complete_line mctl keygen "$DEST$bashcompletiondir/mmi"
	[ "$output" = "$DEST$bashcompletiondir/mmigrate" ]
	run complete_line mrun -- bas
	[[ $output == *bash* ]]
}

@test "completion: node names and job ids from the cluster, with jq" {
	setup_completion
	command -v jq >/dev/null || skip "jq not installed"
	stub_cluster
	run complete_line mrun -n ''
	[ "$output" = "$(printf '%s\n' best here node1 node2)" ]	# not node3: dead
	run complete_line mps -n node
	[ "$output" = "$(printf '%s\n' node1 node2)" ]
	run complete_line mmigrate ''
	[ "$output" = "$(printf '%s\n' node1.7 node2.1)" ]
	run complete_line mmigrate --mode copy node1.7 ''
	[ "$output" = "$(printf '%s\n' home node1 node2)" ]
	run complete_line mctl drain ''
	[ "$output" = "$(printf '%s\n' node1 node2)" ]
	run complete_line mctl undrain node
	[ "$output" = "$(printf '%s\n' node1 node2)" ]
	run complete_line mmigrate node1.7 node2 ''	# nothing more to name: its options
	[ "$output" = "$(printf '%s\n' --check --freeze --json --mode)" ]
	run complete_line mkill node1.7 node2.
	[ "$output" = "node2.1" ]
	run complete_line mkill -s KILL node1
	[ "$output" = "node1.7" ]
	run complete_line mrun -- ls -n nod	# ls's own -n: not node names
	[[ $output != *node1* ]]
}

@test "completion: node names and job ids without jq" {
	setup_completion
	stub_cluster
	without_jq
	run complete_line mrun -n ''
	[ "$output" = "$(printf '%s\n' best here node1 node2)" ]
	run complete_line mkill ''
	[ "$output" = "$(printf '%s\n' node1.7 node2.1)" ]
	run complete_line mmigrate node2.1 n
	[ "$output" = "$(printf '%s\n' node1 node2)" ]
}

@test "completion: a cluster that does not answer offers nothing, and says nothing" {
	setup_completion
	export MIGR_SOCKET=$BATS_TEST_TMPDIR/none.sock
	run complete_line mrun -n ''
	[ "$output" = "$(printf '%s\n' best here)" ]
	run complete_line mkill ''
	[ -z "$output" ]
}

@test "completion: bash-completion loads it by the tool's name; mrun completes its command" {
	[ -n "$bashcompletiondir" ] || skip "configured --with-bashcompletiondir=no"
	local bc=/usr/share/bash-completion/bash_completion
	[ -r "$bc" ] || skip "the bash-completion package is not installed"
	[[ $bashcompletiondir == */completions ]] || skip "completions not in a .../completions dir"
	installed_tools
	run bash --norc --noprofile -c '
		source "$1" >/dev/null 2>&1
		export BASH_COMPLETION_USER_DIR=$2
		__load_completion mmigrate || exit 1
		complete -p mmigrate
		COMP_WORDS=(mrun -n best ls --al); COMP_CWORD=4
		COMP_LINE="mrun -n best ls --al"; COMP_POINT=${#COMP_LINE}
		_migr_complete mrun --al best
		printf "%s\n" "${COMPREPLY[@]}"' x "$bc" "$DEST${bashcompletiondir%/completions}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "complete -F _migr_complete"*mmigrate ]]
	[[ $output == *--all* ]]
}

# ---- migrd under a service manager ----

# migrd_conf: the configuration of a migrd of its own on 127.0.0.1 (not the test cluster), as root
migrd_conf() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (migrd's start-up checks)"
	command -v python3 >/dev/null || skip "python3 not installed"
	dir=$BATS_TEST_TMPDIR/m
	mkdir -p "$dir"
	"$BUILD/cli/mctl" keygen "$dir/key"
	cat >"$dir/migrd.conf" <<-CONF
	node solo
	listen 127.0.0.1 17487
	key $dir/key
	state-dir $dir/state
	socket $dir/migrd.sock
	CONF
}

# notify_listen ADDRESS N: receives N datagrams on ADDRESS (a path, or @abstract) and
# prints each, with whether the control socket answered when it came, to $dir/notify
notify_listen() {
	python3 - "$1" "$2" "$dir/migrd.sock" >"$dir/notify" 2>&1 <<-'EOF' &
	import os, socket, sys
	addr, n, ctl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind("\0" + addr[1:] if addr[0] == "@" else addr)
	open(os.environ["READY_FILE"], "w").close()
	s.settimeout(60)
	for _ in range(n):
	    msg = s.recv(4096).decode()
	    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	    try:
	        c.connect(ctl)
	        up = "socket answers"
	    except OSError:
	        up = "socket silent"
	    print(repr(msg), up, flush=True)
	EOF
	listener=$!
	for _ in $(seq 100); do [ -e "$READY_FILE" ] && return 0; sleep 0.05; done
	return 1
}

notify_run() {
	export READY_FILE=$dir/listening
	notify_listen "$1" 2
	NOTIFY_SOCKET=$1 "$MIGRD" -f -c "$dir/migrd.conf" 2>"$dir/log" &
	local pid=$!
	for _ in $(seq 100); do grep -q READY "$dir/notify" && break; sleep 0.1; done
	kill -TERM "$pid"
	wait "$pid"
	wait "$listener"
	cat "$dir/notify"
	[ "$(sed -n 1p "$dir/notify")" = "'READY=1\\nSTATUS=solo: listening on 127.0.0.1 port 17487' socket answers" ]
	# (the socket may be closed or not by the time STOPPING=1 is read)
	[[ $(sed -n 2p "$dir/notify") == "'STOPPING=1\\nSTATUS=shutting down: SIGTERM' socket "* ]]
}

@test "migrd sends READY=1 once it serves and STOPPING=1 on SIGTERM (abstract socket)" {
	migrd_conf
	notify_run "@migr-test-notify-$$"
}

@test "migrd sends READY=1 and STOPPING=1 to a socket path too" {
	migrd_conf
	notify_run "$dir/notify.sock"
}

@test "stderr as the journal: each line starts with its priority" {
	migrd_conf
	# a config error: <3>
	printf 'node solo\nlisten 127.0.0.1 99999\n' >"$dir/bad.conf"
	exec {fd}>"$dir/err"
	JOURNAL_STREAM=$(stat -L -c '%d:%i' "$dir/err") "$MIGRD" -n -c "$dir/bad.conf" 2>&$fd || true
	exec {fd}>&-
	cat "$dir/err"
	grep -q '^<3>migrd: .*bad.conf:2: listen port' "$dir/err"
	# a running migrd, verbose: <6>, <7> for its tries of a seed that is not there, <4>
	# for a stranger's bytes on its port; and no line without its priority
	echo "peer 127.0.0.1 17486" >>"$dir/migrd.conf"
	exec {fd}>"$dir/log"
	JOURNAL_STREAM=$(stat -L -c '%d:%i' "$dir/log") "$MIGRD" -f -v -c "$dir/migrd.conf" \
		2>&$fd &
	local pid=$!
	exec {fd}>&-
	for _ in $(seq 100); do grep -q listening "$dir/log" && break; sleep 0.1; done
	python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 17487))
s.sendall(b"\xff" * 64); s.recv(1)' || true
	for _ in $(seq 50); do grep -q '^<4>' "$dir/log" && break; sleep 0.1; done
	kill -TERM "$pid"
	wait "$pid"
	cat "$dir/log"
	grep -q '^<6>migrd: solo: listening on 127.0.0.1 port 17487' "$dir/log"
	grep -q '^<7>migrd: .*17486' "$dir/log"
	grep -q '^<4>migrd: ' "$dir/log"
	! grep -v '^<[0-7]>' "$dir/log"
}

@test "a JOURNAL_STREAM that is not stderr changes nothing" {
	migrd_conf
	printf 'node solo\nlisten 127.0.0.1 99999\n' >"$dir/bad.conf"
	touch "$dir/other"
	JOURNAL_STREAM=$(stat -L -c '%d:%i' "$dir/other") "$MIGRD" -n -c "$dir/bad.conf" \
		2>"$dir/err" || true
	grep -q '^migrd: .*bad.conf:2: listen port' "$dir/err"
}
