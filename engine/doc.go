// Package engine is an embedded messaging engine that speaks ZeroMQ's wire
// protocol: ZMTP 3.1 (falling back to 3.0 framing for 3.0 peers) over tcp and
// ipc, and ZWS 2.0 over WebSocket, with the NULL mechanism. Its sockets talk
// to libzmq and to each other.
//
// # Sockets
//
// NewSocket makes a socket of one of the nine types (PAIR, PUB, SUB, REQ,
// REP, DEALER, ROUTER, PULL, PUSH) with Options, which start from
// DefaultOptions. A socket binds (Bind) and connects (Connect) to any number
// of endpoints: tcp://host:port, ipc:///path (or ipc://@name), or
// ws://host:port/path. A connected endpoint is redialled whenever its peer
// goes away, and messages sent meanwhile wait in its queue.
//
//	pull, _ := engine.NewSocket(engine.PULL, engine.DefaultOptions())
//	pull.Bind("tcp://127.0.0.1:5555")
//	push, _ := engine.NewSocket(engine.PUSH, engine.DefaultOptions())
//	push.Connect("tcp://127.0.0.1:5555")
//	push.Send([]byte("hello"))
//	msg, _ := pull.RecvMsg()
//
// Send copies the message (or writes it) before it returns: the caller may
// reuse its buffer at once. RecvFrame and RecvMsg hand the caller frames it
// owns; RecvFrameView lends a frame that stays valid until the next receive
// call, and in exchange receives without allocating.
//
// # Concurrency
//
// As with a ZeroMQ socket, each side of a Socket is used by one goroutine at
// a time: the send side (Send, SendMore, SendMsg, Subscribe, Unsubscribe) and
// the receive side (RecvFrame, RecvFrameView, RecvMsg) may each run in their
// own goroutine, but neither side may be entered by two goroutines at once.
// Bind, Connect, Endpoints, Stats and Close may be called from anywhere;
// Close unblocks a blocked Send or Recv and returns once every goroutine the
// socket started has ended.
//
// # The write path
//
// Each connection has batch buffers that the engine owns. The goroutine in
// Send encodes messages into the open batch without a lock and publishes
// each message with one atomic store; the connection's writer goroutine
// writes whatever is published, at most OutBatchSize bytes per write (a
// frame at least that large goes out alone, header and body with one
// vectored write, without a copy into the batch). There is no timer: a batch
// is whatever was queued when the writer looked. When the connection is
// idle, Send writes the message itself, at once, from the caller's goroutine
// (a non-blocking write); what the kernel does not take is handed to the
// writer. With WriteBatching off, or OutBatchSize 1, every message is its
// own write. Send blocks only at SndHWM, never on the network.
//
// Stats reports what the write path did: messages and bytes out, writes,
// writes done by the writer (batched) and from Send's goroutine (immediate),
// immediate writes the kernel took only part of; and messages, bytes and
// reads in.
//
// # The read path
//
// Each connection's reader reads up to InBatchSize bytes at a time, decodes
// every complete frame, and hands all the complete messages of one read to
// the receiving side in one step, waking a waiting Recv once. Messages from
// several peers are fair-queued. Frames that become the caller's (RecvFrame,
// RecvMsg) are read into chunks of memory for the caller and handed over
// where they lie; a caller that keeps a frame keeps its chunk (64 KiB)
// alive. Frames received as views lie in read buffers that are recycled. A
// frame larger than the read buffer is read straight into a buffer of its
// own, recycled through size classes when it was received as a view.
//
// A reader that finds its socket empty right after a read polls it for a
// few tens of microseconds before it sleeps, so that an answer that follows
// at once is read without a wake-up (one reader per process at a time).
//
// Any protocol error closes that connection only; the reason is logged at
// debug level (Options.Logger).
package engine
