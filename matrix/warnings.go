package matrix

import (
	"fmt"
	"time"
)

// MinThroughputPhase is the shortest throughput phase whose figure is a
// rate: a shorter one mostly measures how fast the socket buffers it filled
// drain once the receiver looks.
const MinThroughputPhase = 50 * time.Millisecond

// FrameOverhead bounds what a message takes in a socket buffer beyond its
// body (a ZMTP frame header).
const FrameOverhead = 9

// Warnings lists what in the scenario would make throughput figures
// measure a drain rather than the send path: a throughput_duration under
// MinThroughputPhase, or a throughput_messages count whose bytes per pair fit
// in the kernel's socket buffers of a protocol (bufferBytes estimates them;
// it may return 0 for unknown). Such cells still run; their phase is
// reported as a problem instead of a rate.
func (s *Scenario) Warnings(bufferBytes func(protocol string) int64) []string {
	w := s.Workload
	var out []string
	if d := time.Duration(w.ThroughputDuration); d > 0 && d < MinThroughputPhase {
		out = append(out, fmt.Sprintf("profile %s: %s %v is under %v: the throughput phase would measure how fast socket buffers drain, not a rate",
			s.Profile, keyThroughputDuration, d, MinThroughputPhase))
	}
	if w.ThroughputMessages <= 0 || bufferBytes == nil {
		return out
	}
	for _, p := range s.Axes.Protocol {
		buf := bufferBytes(p)
		if buf <= 0 {
			continue
		}
		for _, size := range s.Axes.Size {
			perPair := int64(w.ThroughputMessages) * int64(size+FrameOverhead)
			if perPair <= buf {
				out = append(out, fmt.Sprintf("profile %s: %s %d of %d B over %s (%d B per pair) fit in the kernel's socket buffers (%d B): the phase would measure a drain, not a rate; use %s",
					s.Profile, keyThroughputMessages, w.ThroughputMessages, size, p, perPair, buf, keyThroughputDuration))
			}
		}
	}
	return out
}
