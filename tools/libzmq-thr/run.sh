#!/usr/bin/env bash
# The libzmq reference: two plain libzmq processes (thr_send -> thr_recv,
# PUSH -> PULL), the figure zbench's libzmq engine is checked against.
#
#   tools/libzmq-thr/run.sh            build, then run every size and protocol
#
# Settings (environment):
#   SIZES="32 1024"   message sizes in bytes
#   PROTOCOLS="tcp"   tcp and/or ipc
#   COUNT=1000000     messages per run
#   RUNS=5            runs per size; the median is printed last
#   CPUS="0,1"        taskset CPU list for both processes ("" = not pinned)
#   CC=cc  OUT=bin/libzmq-thr
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SIZES=${SIZES:-"32 1024"}
PROTOCOLS=${PROTOCOLS:-tcp}
COUNT=${COUNT:-1000000}
RUNS=${RUNS:-5}
CPUS=${CPUS-0,1}
CC=${CC:-cc}
OUT=${OUT:-bin/libzmq-thr}

mkdir -p "$OUT"
for prog in thr_recv thr_send; do
	"$CC" -O2 -Wall -Wextra -o "$OUT/$prog" "$here/$prog.c" $(pkg-config --cflags --libs libzmq 2>/dev/null || echo -lzmq)
done

pin=()
if [ -n "$CPUS" ]; then
	pin=(taskset -c "$CPUS")
fi

echo "libzmq $(pkg-config --modversion libzmq 2>/dev/null || echo '?'), $COUNT messages per run, $RUNS runs, CPUs ${CPUS:-not pinned}"
for proto in $PROTOCOLS; do
	for size in $SIZES; do
		rates=()
		for run in $(seq 1 "$RUNS"); do
			case $proto in
			tcp) ep="tcp://127.0.0.1:*" ;;
			ipc) ep="ipc://${TMPDIR:-/tmp}/zbench-thr-$$.sock" ;;
			*) echo "unknown protocol $proto (allowed: tcp, ipc)" >&2; exit 2 ;;
			esac
			coproc RECV { "${pin[@]}" "$OUT/thr_recv" "$ep" "$size" "$COUNT"; }
			read -r _ bound <&"${RECV[0]}"
			"${pin[@]}" "$OUT/thr_send" "$bound" "$size" "$COUNT"
			read -r line <&"${RECV[0]}"
			wait "$RECV_PID"
			rate=$(sed -E 's/.*msg\/s ([0-9]+).*/\1/' <<<"$line")
			rates+=("$rate")
			echo "$proto $line"
		done
		median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
		echo "$proto size $size B: median msg/s $median over $RUNS runs"
	done
done
