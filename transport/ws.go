package transport

import (
	"context"
	"errors"
)

// errWSNotYet is returned until the WebSocket transport is built.
var errWSNotYet = errors.New("ws transport is not available in this build")

func listenWS(ep Endpoint) (Listener, error)                { return nil, errWSNotYet }
func dialWS(ctx context.Context, ep Endpoint) (*Conn, error) { return nil, errWSNotYet }
