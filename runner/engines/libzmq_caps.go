package engines

import (
	"fmt"

	"zbench/matrix"
	"zbench/runner/sample"
)

// libzmqOutBatchSize is libzmq's own batch (out_batch_size in its
// options.cpp, 8192 bytes, which the matrix's default matches): the only
// out_batch_size a cell may ask for when the library refuses
// ZMQ_OUT_BATCH_SIZE.
const libzmqOutBatchSize = matrix.DefaultOutBatchSize

// libzmqCaps is what a libzmq can do, found out by trying: in this process
// (the libzmq engine) or in the C side program (libzmq-c).
type libzmqCaps struct {
	version      string
	outBatchSize error // nil when ZMQ_OUT_BATCH_SIZE is accepted
	ws           error // nil when a ws endpoint can be bound
}

// verdict is Supports of both libzmq engines: the transports the library
// has, and the batching axes it can honour (noted as n/a, never silently
// ignored).
func (caps libzmqCaps) verdict(c matrix.Cell) (bool, string) {
	switch c.Protocol {
	case matrix.ProtocolTCP, matrix.ProtocolIPC:
	case matrix.ProtocolWS:
		if caps.ws != nil {
			return false, fmt.Sprintf("libzmq %s has no ws transport: %v", caps.version, caps.ws)
		}
	default:
		return false, fmt.Sprintf("libzmq: unknown protocol %q", c.Protocol)
	}
	if !c.WriteBatching {
		return false, fmt.Sprintf("libzmq %s always batches writes: write_batching false cannot be honoured", caps.version)
	}
	if caps.outBatchSize != nil {
		if c.OutBatchSize != libzmqOutBatchSize {
			return false, fmt.Sprintf("libzmq %s has no out_batch_size setting (draft option ZMQ_OUT_BATCH_SIZE refused: %v); it batches up to %d bytes",
				caps.version, caps.outBatchSize, libzmqOutBatchSize)
		}
		return true, sample.NoteNotApplicable(fmt.Sprintf("libzmq %s cannot set them (no draft API); it always batches writes, up to %d bytes",
			caps.version, libzmqOutBatchSize), matrix.AxisOutBatchSize, matrix.AxisWriteBatching)
	}
	return true, sample.NoteNotApplicable(fmt.Sprintf("libzmq %s always batches writes (out_batch_size is set through ZMQ_OUT_BATCH_SIZE)",
		caps.version), matrix.AxisWriteBatching)
}
