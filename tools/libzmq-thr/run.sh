#!/usr/bin/env bash
# The libzmq reference: two plain libzmq processes, in libzmq's own perf-tool
# style, independent of zbench's code:
#   throughput  thr_send -> thr_recv (PUSH -> PULL), msg/s as zbench times it
#   latency     lat_ping <-> lat_echo (PAIR, or REQ/REP as local_lat), RTT p50
#               and mean from CLOCK_MONOTONIC, every round trip timed
# The figures zbench's libzmq engine (and its libzmq-c reference row) are
# checked against.
#
#   tools/libzmq-thr/run.sh            build, then run every mode, size and protocol
#
# Settings (environment):
#   MODES="throughput latency"
#   SIZES="32 1024"     message sizes in bytes
#   PROTOCOLS="tcp"     tcp and/or ipc
#   COUNT=1000000       messages per throughput run
#   ROUND_TRIPS=2000    round trips per latency run (after 10 untimed)
#   LAT_PATTERN=pair    pair or req-rep
#   RUNS=5              runs per size; the median is printed last
#   CPUS="0,1"          taskset CPU list for both processes, or SENDER:RECEIVER
#                       ("0:1": the sender / pinging side on 0, the receiver /
#                       echo on 1, as zbench's --cpus); "" = not pinned
#   CC=cc  OUT=bin/libzmq-thr
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MODES=${MODES:-"throughput latency"}
SIZES=${SIZES:-"32 1024"}
PROTOCOLS=${PROTOCOLS:-tcp}
COUNT=${COUNT:-1000000}
ROUND_TRIPS=${ROUND_TRIPS:-2000}
LAT_PATTERN=${LAT_PATTERN:-pair}
LAT_WARMUP=10
RUNS=${RUNS:-5}
CPUS=${CPUS-0,1}
CC=${CC:-cc}
OUT=${OUT:-bin/libzmq-thr}

mkdir -p "$OUT"
for prog in thr_recv thr_send lat_echo lat_ping; do
	"$CC" -O2 -Wall -Wextra -o "$OUT/$prog" "$here/$prog.c" $(pkg-config --cflags --libs libzmq 2>/dev/null || echo -lzmq)
done

send_pin=()
recv_pin=()
if [ -n "$CPUS" ]; then
	case $CPUS in
	*:*) send_pin=(taskset -c "${CPUS%%:*}"); recv_pin=(taskset -c "${CPUS#*:}") ;;
	*) send_pin=(taskset -c "$CPUS"); recv_pin=(taskset -c "$CPUS") ;;
	esac
fi

endpoint() {
	case $1 in
	tcp) echo "tcp://127.0.0.1:*" ;;
	ipc) echo "ipc://${TMPDIR:-/tmp}/zbench-thr-$$.sock" ;;
	*) echo "unknown protocol $1 (allowed: tcp, ipc)" >&2; exit 2 ;;
	esac
}

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

echo "libzmq $(pkg-config --modversion libzmq 2>/dev/null || echo '?'), $RUNS runs, CPUs ${CPUS:-not pinned}"
for mode in $MODES; do
	for proto in $PROTOCOLS; do
		for size in $SIZES; do
			values=()
			for run in $(seq 1 "$RUNS"); do
				ep=$(endpoint "$proto")
				case $mode in
				throughput)
					coproc RECV { "${recv_pin[@]}" "$OUT/thr_recv" "$ep" "$size" "$COUNT"; }
					read -r _ bound <&"${RECV[0]}"
					"${send_pin[@]}" "$OUT/thr_send" "$bound" "$size" "$COUNT"
					read -r line <&"${RECV[0]}"
					wait "$RECV_PID"
					values+=("$(sed -E 's/.*msg\/s ([0-9]+).*/\1/' <<<"$line")")
					;;
				latency)
					coproc ECHO { "${recv_pin[@]}" "$OUT/lat_echo" "$ep" "$size" $((ROUND_TRIPS + LAT_WARMUP)) "$LAT_PATTERN"; }
					read -r _ bound <&"${ECHO[0]}"
					line=$("${send_pin[@]}" "$OUT/lat_ping" "$bound" "$size" "$ROUND_TRIPS" "$LAT_PATTERN" "$LAT_WARMUP")
					wait "$ECHO_PID"
					values+=("$(sed -E 's/.*rtt p50 ([0-9.]+) us.*/\1/' <<<"$line")")
					;;
				*) echo "unknown mode $mode (allowed: throughput, latency)" >&2; exit 2 ;;
				esac
				echo "$mode $proto $line"
			done
			m=$(printf '%s\n' "${values[@]}" | median)
			case $mode in
			throughput) echo "throughput $proto size $size B: median msg/s $m over $RUNS runs" ;;
			latency) echo "latency $proto size $size B ($LAT_PATTERN): median rtt p50 $m us over $RUNS runs" ;;
			esac
		done
	done
done
