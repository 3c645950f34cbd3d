#!/usr/bin/env bash
# Entrypoint of Meerkat's container image (packaging/Dockerfile). It keeps the
# environment contract of the official `zookeeper` image (3.8), so that its
# compose files and Kubernetes manifests work unchanged:
#
#   - without "$ZOO_CONF_DIR/zoo.cfg", one is written from the ZOO_* variables
#     (same keys, order and defaults as the official image); an existing
#     zoo.cfg, e.g. a mounted /conf, is never touched;
#   - without "$ZOO_DATA_DIR/myid", it is written from ZOO_MY_ID (default 1);
#   - started as root to run the server, it hands the data directories to
#     $MEERKAT_USER (default meerkat; empty: stay root) and re-runs itself as
#     that user;
#   - then it execs its arguments. `meerkat` alone, no arguments at all, and
#     the official image's `zkServer.sh start-foreground [file]` all become
#     `meerkat [-log-level L] "$ZOO_CONF_DIR/zoo.cfg"` (or that file), L from
#     ZOO_LOG_LEVEL (TRACE, DEBUG, INFO, WARN, ERROR, any case). Anything else
#     (`meerkat -port 2182 /conf/zoo.cfg`, `meerkat snapshot ...`, `bash`)
#     runs as given.
#
# No key that Meerkat refuses (TLS, SASL) is ever generated. The admin server
# keeps Meerkat's loopback default (admin.serverAddress is not generated):
# probe the client port with the `srvr` four-letter word (whitelisted by
# default; `ruok` once ZOO_4LW_COMMANDS_WHITELIST lists it) or scrape the
# metrics port.
set -euo pipefail

die() {
	echo "docker-entrypoint.sh: $*" >&2
	exit 1
}

# Defaults: the official image's ENV values, repeated here so that the script
# behaves the same outside the image (the Dockerfile sets the same ones).
: "${ZOO_CONF_DIR:=/conf}"
: "${ZOO_DATA_DIR:=/data}"
: "${ZOO_DATA_LOG_DIR:=/datalog}"
: "${ZOO_LOG_DIR:=/logs}"
: "${ZOO_TICK_TIME:=2000}"
: "${ZOO_INIT_LIMIT:=5}"
: "${ZOO_SYNC_LIMIT:=2}"
: "${ZOO_AUTOPURGE_PURGEINTERVAL:=0}"
: "${ZOO_AUTOPURGE_SNAPRETAINCOUNT:=3}"
: "${ZOO_MAX_CLIENT_CNXNS:=60}"
: "${ZOO_STANDALONE_ENABLED:=true}"
: "${ZOO_ADMINSERVER_ENABLED:=true}"
# Not in the official ENV: the official script falls back to these itself.
: "${ZOO_SERVERS:=server.1=localhost:2888:3888;2181}"
: "${ZOO_MY_ID:=1}"
: "${ZOO_4LW_COMMANDS_WHITELIST:=}"
: "${ZOO_CFG_EXTRA:=}"
: "${ZOO_LOG_LEVEL:=}"
MEERKAT_USER=${MEERKAT_USER-meerkat}

if [[ $# -eq 0 ]]; then
	set -- meerkat
fi
case "$1" in
meerkat | zkServer.sh) server=true ;;
*) server=false ;;
esac

# As root, the server runs as $MEERKAT_USER: give it the directories it
# writes (only the files it does not own yet, so that a restart does not walk
# a large data directory; -h so that a symlink's target keeps its owner) and
# re-run this script as that user.
if [[ $server == true && $(id -u) == 0 && -n $MEERKAT_USER ]]; then
	uid=$(id -u "$MEERKAT_USER" 2>/dev/null) ||
		die "user $MEERKAT_USER does not exist (MEERKAT_USER= keeps root)"
	if [[ $uid != 0 ]]; then
		gid=$(id -g "$MEERKAT_USER")
		for dir in "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"; do
			if [[ -d $dir ]]; then
				find "$dir" ! -user "$uid" -exec chown -h "$uid:$gid" {} +
			fi
		done
		if [[ -d $ZOO_CONF_DIR && ! -f $ZOO_CONF_DIR/zoo.cfg ]]; then
			chown "$uid:$gid" "$ZOO_CONF_DIR"
		fi
		exec setpriv --reuid="$uid" --regid="$gid" --init-groups -- "$BASH" "$0" "$@"
	fi
fi

# zoo.cfg, in the official image's order. Lists are split on whitespace with
# globbing off, so an entry such as 4lw.commands.whitelist=* stays literal.
# The file is written beside its final name and renamed, so that an
# interrupted start cannot leave a partial zoo.cfg that later starts would
# keep.
cfg=$ZOO_CONF_DIR/zoo.cfg
if [[ ! -f $cfg ]]; then
	[[ -d $ZOO_CONF_DIR ]] || die "ZOO_CONF_DIR $ZOO_CONF_DIR is not a directory"
	set -f
	{
		printf '%s\n' \
			"dataDir=$ZOO_DATA_DIR" \
			"dataLogDir=$ZOO_DATA_LOG_DIR" \
			"tickTime=$ZOO_TICK_TIME" \
			"initLimit=$ZOO_INIT_LIMIT" \
			"syncLimit=$ZOO_SYNC_LIMIT" \
			"autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT" \
			"autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL" \
			"maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS" \
			"standaloneEnabled=$ZOO_STANDALONE_ENABLED" \
			"admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
		for server_line in $ZOO_SERVERS; do
			printf '%s\n' "$server_line"
		done
		if [[ -n $ZOO_4LW_COMMANDS_WHITELIST ]]; then
			printf '%s\n' "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
		fi
		for extra in $ZOO_CFG_EXTRA; do
			printf '%s\n' "$extra"
		done
	} >"$cfg.tmp"
	set +f
	mv -f "$cfg.tmp" "$cfg"
fi

if [[ ! -f $ZOO_DATA_DIR/myid ]]; then
	[[ -d $ZOO_DATA_DIR ]] || die "ZOO_DATA_DIR $ZOO_DATA_DIR is not a directory"
	printf '%s\n' "$ZOO_MY_ID" >"$ZOO_DATA_DIR/myid"
fi

# The server's command line.
if [[ $server == true ]]; then
	level=()
	if [[ -n $ZOO_LOG_LEVEL ]]; then
		case "${ZOO_LOG_LEVEL,,}" in
		trace | debug) level=(-log-level debug) ;;
		info) level=(-log-level info) ;;
		warn) level=(-log-level warn) ;;
		error) level=(-log-level error) ;;
		*) die "ZOO_LOG_LEVEL=$ZOO_LOG_LEVEL: want TRACE, DEBUG, INFO, WARN or ERROR" ;;
		esac
	fi
	if [[ $1 == zkServer.sh ]]; then
		# zkServer.sh reads its optional file name relative to the
		# configuration directory.
		if [[ ${2:-} != start-foreground || $# -gt 3 ]]; then
			die "$*: only 'zkServer.sh start-foreground [zoo.cfg]' runs in this image"
		fi
		set -- meerkat "${level[@]}" "$ZOO_CONF_DIR/${3:-zoo.cfg}"
	elif [[ $# -eq 1 ]]; then
		set -- meerkat "${level[@]}" "$cfg"
	fi
fi

exec "$@"
