#!/usr/bin/env bash
# Load test: LuaRoBot serving a Lua echo bot against a bare net/http server
# that answers a fixed reply, in the same run, each server pinned to CPU 0
# and wrk to CPU 1. Prints requests/second per round, the medians and the
# ratio. Needs wrk (apt-get install wrk) and taskset.
#
#   bench/load.sh [seconds per round] [rounds]
#
# PREVIOUS=path/to/an/older/luarobot adds that binary as a third server,
# measured in the same rounds: how a change moved the speed, against the
# same baseline on the same machine at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
conns=${CONNS:-32}
token=loadtesttoken
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
go build -o "$work/luarobot" .
go build -o "$work/bare" ./bench/bare

# wechat.lua signs each request with its own nonce: the host refuses a
# signed query reused with another body (a replay). The start-up check is a
# GET, signed here once.
export WECHAT_TOKEN=$token
ts=$(date +%s)
nonce=12345
sig=$(printf '%s\n' "$token" "$ts" "$nonce" | sort | tr -d '\n' | sha1sum | cut -d' ' -f1)
check_query="signature=$sig&timestamp=$ts&nonce=$nonce"

start() { # name port cmd...
	local name=$1 port=$2; shift 2
	taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/?$check_query&echostr=ok" && return 0
		sleep 0.1
	done
	echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1
}

start bare 8899 "$work/bare" -addr 127.0.0.1:8899
start luarobot 8898 "$work/luarobot" serve --port 8898 --token "$token" \
	--scripts bench/echo --session_storage memory --log_level error --admin_addr off
if [ -n "${PREVIOUS:-}" ]; then
	# An older binary may not know admin_addr (it then has no admin listener).
	prev_flags=()
	"$PREVIOUS" serve -h 2>&1 | grep -q admin_addr && prev_flags=(--admin_addr off)
	start previous 8897 "$PREVIOUS" serve --port 8897 --token "$token" \
		--scripts bench/echo --session_storage memory --log_level error "${prev_flags[@]}"
fi

rps() { # port
	local out
	out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" -s bench/wechat.lua "http://127.0.0.1:$1/" 2>"$work/wrk.err")
	# Refused requests would measure the refusal path, not the bot.
	if grep -q "Non-2xx" <<<"$out"; then
		echo "port $1: $(grep Non-2xx <<<"$out"); first: $(head -1 "$work/wrk.err")" >&2
		exit 1
	fi
	awk '/Requests\/sec/ {print $2}' <<<"$out"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Warm both servers up: the Go heap and the Lua state pool settle first.
rps_warm() { taskset -c 1 wrk -t1 -c"$conns" -d3s -s bench/wechat.lua "http://127.0.0.1:$1/" >/dev/null; }
rps_warm 8899; rps_warm 8898
[ -n "${PREVIOUS:-}" ] && rps_warm 8897

: >"$work/bare.rps"; : >"$work/luarobot.rps"; : >"$work/previous.rps"
for r in $(seq "$rounds"); do
	b=$(rps 8899); l=$(rps 8898)
	line="round $r: bare $b req/s, luarobot $l req/s"
	if [ -n "${PREVIOUS:-}" ]; then
		p=$(rps 8897); echo "$p" >>"$work/previous.rps"
		line="$line, previous $p req/s"
	fi
	echo "$line"
	echo "$b" >>"$work/bare.rps"; echo "$l" >>"$work/luarobot.rps"
done
ratio() { awk -v l="$1" -v b="$2" 'BEGIN {printf "%.2f", l/b}'; }
mb=$(median <"$work/bare.rps"); ml=$(median <"$work/luarobot.rps")
echo "median: bare $mb req/s, luarobot (Lua echo bot) $ml req/s, ratio $(ratio "$ml" "$mb")"
if [ -n "${PREVIOUS:-}" ]; then
	mp=$(median <"$work/previous.rps")
	echo "median: previous $mp req/s, ratio to bare $(ratio "$mp" "$mb"); luarobot/previous $(ratio "$ml" "$mp")"
fi
