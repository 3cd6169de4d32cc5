package engine

import (
	"fmt"
	"log/slog"
	"time"
)

// Default option values. The CLI's flag defaults read these through
// DefaultOptions, so there is one source of truth.
const (
	DefaultOutBatchSize    = 8192
	DefaultInBatchSize     = 8192
	DefaultHWM             = 1000
	DefaultLinger          = 30 * time.Second
	DefaultReconnectIvl    = 100 * time.Millisecond
	DefaultReconnectIvlMax = 5 * time.Second
	DefaultHandshakeIvl    = 30 * time.Second

	// MaxIdentitySize is the longest Identity ZMTP can carry.
	MaxIdentitySize = 255
	// maxBatchSize bounds OutBatchSize and InBatchSize (1 GiB is already silly).
	maxBatchSize = 1 << 30
	minInBatch   = 64
)

// Options configure a Socket. Start from DefaultOptions and change what you
// need; NewSocket validates them.
type Options struct {
	// OutBatchSize is the largest number of bytes the connection's writer
	// encodes into its batch buffer before one write. A message whose encoded
	// frame is at least this large is written on its own, without copying its
	// body into the batch. 1 means every message is its own write (the
	// latency setting, at a throughput cost for small messages). >= 1.
	OutBatchSize int
	// WriteBatching lets queued messages share a write. When false every
	// message is its own write, taken from the caller's goroutine whenever the
	// connection is idle.
	WriteBatching bool
	// InBatchSize is the size of each connection's read buffer, in bytes. >= 64.
	InBatchSize int
	// SndHWM is the number of messages that may be queued per peer before Send
	// blocks (PUSH, DEALER, PAIR, REQ, REP, ROUTER) or drops (PUB). 0 = no limit.
	SndHWM int
	// RcvHWM is the number of received messages queued per peer before the
	// engine stops reading from that connection. 0 = no limit.
	RcvHWM int
	// MaxMsgSize is the largest frame body accepted from a peer; a larger one
	// closes that connection before anything is allocated for it. -1 = no limit.
	MaxMsgSize int64
	// Linger is how long Close waits for queued messages to be written.
	// 0 discards them at once; negative waits as long as it takes.
	Linger time.Duration
	// ReconnectIvl is the wait before redialling a connected endpoint whose
	// peer went away; it doubles after each failed attempt up to
	// ReconnectIvlMax (when ReconnectIvlMax > ReconnectIvl).
	ReconnectIvl    time.Duration
	ReconnectIvlMax time.Duration
	// SendTimeout bounds how long Send waits for room below the high-water
	// mark or for a peer; RecvTimeout bounds how long Recv waits for a
	// message. 0 = wait as long as it takes. Both fail with ErrTimeout.
	SendTimeout time.Duration
	RecvTimeout time.Duration
	// Identity is this socket's routing identity, announced to ROUTER peers
	// in READY. At most 255 bytes and must not start with a zero byte.
	Identity []byte
	// Subscribe lists the prefixes a SUB socket subscribes to from the start
	// (Subscribe and Unsubscribe change them later).
	Subscribe [][]byte
	// Logger receives protocol errors and connection events at debug level.
	// nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options a socket gets when nothing is changed.
func DefaultOptions() Options {
	return Options{
		OutBatchSize:    DefaultOutBatchSize,
		WriteBatching:   true,
		InBatchSize:     DefaultInBatchSize,
		SndHWM:          DefaultHWM,
		RcvHWM:          DefaultHWM,
		MaxMsgSize:      -1,
		Linger:          DefaultLinger,
		ReconnectIvl:    DefaultReconnectIvl,
		ReconnectIvlMax: DefaultReconnectIvlMax,
	}
}

// OptionError reports an option value outside its allowed range.
type OptionError struct {
	Option  string // field name, e.g. "OutBatchSize"
	Value   any
	Allowed string // e.g. ">= 1"
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("engine: option %s = %v is out of range; allowed: %s", e.Option, e.Value, e.Allowed)
}

// Unwrap lets errors.Is(err, ErrBadOption) match.
func (e *OptionError) Unwrap() error { return ErrBadOption }

// Validate reports the first option outside its allowed range as an
// *OptionError.
func (o Options) Validate() error {
	bad := func(name string, v any, allowed string) error {
		return &OptionError{Option: name, Value: v, Allowed: allowed}
	}
	switch {
	case o.OutBatchSize < 1 || o.OutBatchSize > maxBatchSize:
		return bad("OutBatchSize", o.OutBatchSize, fmt.Sprintf("1..%d bytes", maxBatchSize))
	case o.InBatchSize < minInBatch || o.InBatchSize > maxBatchSize:
		return bad("InBatchSize", o.InBatchSize, fmt.Sprintf("%d..%d bytes", minInBatch, maxBatchSize))
	case o.SndHWM < 0:
		return bad("SndHWM", o.SndHWM, ">= 0 messages (0 = no limit)")
	case o.RcvHWM < 0:
		return bad("RcvHWM", o.RcvHWM, ">= 0 messages (0 = no limit)")
	case o.MaxMsgSize < -1:
		return bad("MaxMsgSize", o.MaxMsgSize, ">= 0 bytes, or -1 for no limit")
	case o.ReconnectIvl <= 0:
		return bad("ReconnectIvl", o.ReconnectIvl, "> 0")
	case o.ReconnectIvlMax < 0:
		return bad("ReconnectIvlMax", o.ReconnectIvlMax, ">= 0 (0 = no backoff)")
	case o.SendTimeout < 0:
		return bad("SendTimeout", o.SendTimeout, ">= 0 (0 = no timeout)")
	case o.RecvTimeout < 0:
		return bad("RecvTimeout", o.RecvTimeout, ">= 0 (0 = no timeout)")
	case len(o.Identity) > MaxIdentitySize:
		return bad("Identity", fmt.Sprintf("%d bytes", len(o.Identity)), "0..255 bytes")
	case len(o.Identity) > 0 && o.Identity[0] == 0:
		return bad("Identity", fmt.Sprintf("%q", o.Identity), "a first byte other than 0 (reserved)")
	}
	return nil
}
