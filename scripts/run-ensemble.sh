#!/usr/bin/env bash
# Starts a local three-server Meerkat ensemble on loopback, each server
# with its own zoo.cfg and data under ./data/ensemble/<id>:
#
#   server  client port      peer port  admin port
#   1       127.0.0.1:2181   2888       8081
#   2       127.0.0.1:2182   2889       8082
#   3       127.0.0.1:2183   2890       8083
#
# Every few seconds it prints each server's mode (leader, follower, or
# "-" while it has no leader). Kill the leader's pid to watch a failover;
# Ctrl-C (or SIGTERM to this script) stops all three.
# MEERKAT_EXTRA_CONFIG holds zoo.cfg lines added to each server's file
# (meerkat.admin.pprof.enabled=true for profiles, forceSync=no, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${MEERKAT:-bin/meerkat}
declare -A pids
stop() {
	trap - INT TERM EXIT
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	exit 0
}
trap stop INT TERM EXIT

for id in 1 2 3; do
	dir=data/ensemble/$id
	mkdir -p "$dir"
	echo "$id" >"$dir/myid"
	cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$PWD/$dir
clientPortAddress=127.0.0.1
clientPort=218$id
admin.serverPort=808$id
4lw.commands.whitelist=*
# Three servers share this machine: one event loop each, not one per core.
nio.numSelectorThreads=1
server.1=127.0.0.1:2888:3888
server.2=127.0.0.1:2889:3889
server.3=127.0.0.1:2890:3890
${MEERKAT_EXTRA_CONFIG:-}
CFG
	"$bin" "$dir/zoo.cfg" 2>"$dir/meerkat.log" &
	pids[$id]=$!
	echo "server $id: pid ${pids[$id]}, client port 218$id, log $dir/meerkat.log"
done

# mode asks a server for its mode with the srvr four-letter word.
mode() {
	local out
	out=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf srvr >&3 && sed -n 's/^Mode: //p' <&3) 2>/dev/null) || {
		echo down
		return
	}
	echo "${out:--}"
}

while sleep 3; do
	line=$(date +%T)
	for id in 1 2 3; do
		line+="  $id:$(mode 218$id)"
	done
	echo "$line"
done
