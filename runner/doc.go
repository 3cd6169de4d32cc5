// Package runner executes the matrix: every (cell, run) in fresh worker
// processes, measured from outside, with the workloads driven inside them.
//
// # Topology
//
// A cell's processes axis says how its sides are placed. A side is one end of
// every socket pair of the cell: the sender (the stream's sender and the
// client of round trips; it connects) or the receiver (the stream's receiver
// and the echo of round trips; it binds every endpoint).
//
//   - processes 2 (the default): each side in a worker process of its own,
//     each with its own engine instance (a mixed pair "zbench>libzmq" is
//     simply zbench in the sender's process and libzmq in the receiver's), as
//     libzmq's local_thr/remote_thr, OMB and real deployments run. --cpus can
//     pin each side to its own CPU set (CPUSpec).
//   - processes 1: both sides in one worker, for comparison.
//
// # Parent side
//
// [Run] schedules the runs interleaved across cells (run 1 of every cell,
// then run 2, ...). For a two-process run it starts the receiver's and the
// sender's workers and coordinates them over the side protocol (proto.go):
// the receiver binds and reports its endpoints, the sender connects to them;
// then phase after phase the receiver begins first, says it is ready (having
// read its own CPU and memory figures), the sender begins, a side's "seen"
// is passed on to the other, and the next phase starts once both are done.
// The run is bounded by the cell's timeout; when it passes, when a side fails
// or dies, or on Ctrl-C, both workers' process groups are killed, and the
// run is recorded as timeout, failed (naming the side and how it ended, with
// both stderrs kept) or interrupted. The parent adds what only it sees: each
// worker's rusage (CPU, peak RSS), wall time, harness overhead (spawn to the
// sender's first send). Engines whose sides are programs of their own
// ([External]: libzmq driven by plain C programs) speak the same protocol.
//
// # Worker side
//
// [Work] reads the job, then either serves one side under the side protocol,
// measuring itself at every phase boundary (getrusage, /proc/self/statm,
// runtime.MemStats, the engine's telemetry), or, with processes 1, runs both
// sides as goroutines under the same coordinator ([RunCell]).
//
// # Phases
//
//  1. Connect all pairs: the receiver binds tcp://127.0.0.1:*,
//     ipc:///<tmpdir>/zbench-<pid>-<n>.sock or ws://127.0.0.1:*/zbench, the
//     sender connects.
//  2. sync (pub-sub only): each side repeats a probe until the other has seen
//     one, so no message is lost to a subscription in flight.
//  3. Warm-up: warmup_messages per pair through the stream, then up to 10
//     round trips (req-rep: round trips only). Not measured.
//  4. Throughput: throughput_messages per pair (or for throughput_duration),
//     every pair at once. msg/s is the total delivered divided by the time
//     from the sender's first send to the receiver's last receive, both read
//     from the host's monotonic clock ([Mono]), which the two processes
//     share; every message's size is checked. The sender's phase ends only
//     when the receiver has seen the end marker, so its CPU time and
//     telemetry include the engine's writing of what it queued. A phase
//     under 50 ms, or a fixed count the kernel's socket buffers hold whole,
//     measures a drain: it is reported as a problem, not a rate.
//  5. Latency: latency_round_trips request/echo round trips per pair, timed
//     into an HdrHistogram per pair, merged for p50, p99, p99.9, max and
//     mean; one-way = mean / 2.
//
// Engines that implement [Loops] (libzmq) run the data part of each phase in
// one call, in C; markers and phase control stay in Go.
//
// # Patterns
//
//   - pair: PAIR <-> PAIR over one connection; the stream and the requests go
//     one way, the echo comes back on the same connection.
//   - push-pull: PUSH -> PULL streams; a second PULL <- PUSH link carries the
//     echo back.
//   - req-rep: REQ <-> REP. No one-way stream: the throughput phase is
//     back-to-back round trips and its msg/s counts requests and replies.
//   - dealer-router: DEALER -> ROUTER; the ROUTER echoes to the DEALER's
//     identity.
//   - pub-sub: PUB -> SUB (subscribed to everything), and a reverse PUB -> SUB
//     for the echo. A PUB drops at its high-water mark: drops are reported in
//     Throughput.Dropped, never waited for; markers are repeated every
//     millisecond until the other side has seen them.
//
// Phase boundaries travel in-band as two-frame control messages (a tag frame
// and a one-byte code); data messages are always one frame of the cell's
// size.
package runner
