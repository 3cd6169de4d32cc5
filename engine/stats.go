package engine

// Stats is a snapshot of a socket's telemetry, summed over all its peers
// (including peers that are gone).
type Stats struct {
	MsgsOut  uint64 // messages handed to writes (multipart counts once)
	BytesOut uint64 // bytes written to connections, framing included
	// Writes is the number of write calls: BatchedWrites by connections'
	// writers plus ImmediateWrites from Send's goroutine.
	Writes          uint64
	BatchedWrites   uint64
	ImmediateWrites uint64
	// PartialHandoffs counts immediate writes the kernel took only part of;
	// the rest went to the connection's writer.
	PartialHandoffs uint64
	MsgsIn          uint64 // messages received
	BytesIn         uint64 // bytes read from connections, framing included
	Reads           uint64 // read calls that returned data
}

// MsgsPerWrite is the average number of messages per write call.
func (s Stats) MsgsPerWrite() float64 {
	if s.Writes == 0 {
		return 0
	}
	return float64(s.MsgsOut) / float64(s.Writes)
}

func (s *Stats) add(o Stats) {
	s.MsgsOut += o.MsgsOut
	s.BytesOut += o.BytesOut
	s.Writes += o.Writes
	s.BatchedWrites += o.BatchedWrites
	s.ImmediateWrites += o.ImmediateWrites
	s.PartialHandoffs += o.PartialHandoffs
	s.MsgsIn += o.MsgsIn
	s.BytesIn += o.BytesIn
	s.Reads += o.Reads
}

// stats reads one pipe's telemetry.
func (p *pipe) stats() Stats {
	q, in := &p.out, &p.in
	return Stats{
		MsgsOut:         q.msgsOut.Load(),
		BytesOut:        q.bytesOut.Load(),
		Writes:          q.writes.Load(),
		BatchedWrites:   q.batched.Load(),
		ImmediateWrites: q.immediate.Load(),
		PartialHandoffs: q.handoffs.Load(),
		MsgsIn:          in.msgsIn.Load(),
		BytesIn:         in.bytesIn.Load(),
		Reads:           in.reads.Load(),
	}
}

// Stats returns the socket's telemetry. It is cheap: atomic loads per peer.
func (s *Socket) Stats() Stats {
	s.mu.Lock()
	st := s.retired
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	for _, p := range pipes {
		st.add(p.stats())
	}
	return st
}
