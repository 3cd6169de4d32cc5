// Package runner executes the matrix: it runs every (cell, run) in a fresh
// `zbench worker` process, measures that process from outside, and drives
// the workloads inside it.
//
// # Parent side
//
// [Run] schedules the runs interleaved across cells (run 1 of every cell,
// then run 2, ...), spawns one worker per run with the [Job] as JSON on its
// stdin, reads one [Sample] as JSON from its stdout, and adds what only the
// parent sees: wall time, harness overhead (spawn to first measured message),
// peak RSS and user/system CPU from the child's rusage. A cell's timeout kills
// the worker's whole process group (status timeout); a crash or non-zero exit
// is status failed with stderr kept; cells an engine cannot run are recorded
// as unsupported without spawning anything. Cancelling the context stops the
// running worker and returns what finished, marked incomplete.
//
// # Worker side
//
// [Work] reads the job and calls [RunCell], which drives k = cell.Sockets
// independent socket pairs concurrently through the small [Engine] / [Socket]
// interface (adapters in runner/engines), in four phases:
//
//  1. Connect all pairs. The binding side listens on tcp://127.0.0.1:* (the
//     port read back), ipc:///<tmpdir>/zbench-<pid>-<n>.sock or
//     ws://127.0.0.1:*/zbench.
//  2. Warm up: warmup_messages per pair through the stream link, then up to
//     10 round trips so the echo path's connection is up too (req-rep: round
//     trips only). Not measured.
//  3. Throughput: throughput_messages per pair (or for throughput_duration),
//     every pair at once; msg/s is the total delivered divided by the time
//     from the first receive on any pair to the last; every message's size is
//     checked and a wrong size fails the run.
//  4. Latency: latency_round_trips request/echo round trips per pair, each
//     timed into an HdrHistogram per pair, merged for p50, p99, p99.9, max and
//     mean; one-way = mean / 2.
//
// Engine telemetry (summed over all sockets) and Go runtime figures
// (runtime.ReadMemStats) cover phases 3 and 4.
//
// # Patterns
//
//   - pair: PAIR <-> PAIR over one connection. Throughput: one side streams to
//     the other. Latency: the same side sends a request, the other echoes it.
//   - push-pull: PUSH -> PULL streams; latency adds a second PUSH -> PULL link
//     back, over which the echo returns.
//   - req-rep: REQ <-> REP. There is no one-way stream, so the throughput phase
//     is back-to-back round trips; its msg/s counts requests and replies
//     delivered (two messages per round trip). Latency: round trips.
//   - dealer-router: DEALER -> ROUTER streams; latency: the DEALER sends a
//     request, the ROUTER echoes it to the DEALER's identity.
//   - pub-sub: PUB -> SUB (subscribed to everything) streams; latency adds a
//     reverse PUB -> SUB link for the echo. A PUB drops messages at its
//     high-water mark: the drops (sent - received once the end-of-stream
//     marker arrived) are reported in Throughput.Dropped, never waited for.
//     Before warm-up both links are synchronised (each PUB repeats a probe
//     until its SUB has seen it), so no message is lost to a subscription
//     still in flight.
//
// Phase boundaries travel in-band as two-frame control messages (a tag frame
// and a one-byte code); data messages are always one frame of the cell's
// size. An end-of-stream marker is sent once on reliable links and repeated
// every millisecond on lossy (pub-sub) links until the receiver has seen it.
package runner
