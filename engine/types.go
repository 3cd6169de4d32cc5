package engine

import (
	"fmt"
	"strings"
)

// Type is a ZeroMQ socket type.
type Type uint8

// The socket types this engine implements.
const (
	PAIR Type = iota
	PUB
	SUB
	REQ
	REP
	DEALER
	ROUTER
	PULL
	PUSH
)

var typeNames = [...]string{
	PAIR: "PAIR", PUB: "PUB", SUB: "SUB", REQ: "REQ", REP: "REP",
	DEALER: "DEALER", ROUTER: "ROUTER", PULL: "PULL", PUSH: "PUSH",
}

// String returns the type's name as ZMTP's Socket-Type property spells it.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", t)
}

// ParseType turns a socket type name ("push", "PUSH") into a Type.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if strings.EqualFold(s, n) {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("engine: unknown socket type %q; allowed: pair, pub, sub, req, rep, dealer, router, pull, push", s)
}

// peerTypes lists, per socket type, the Socket-Type values a peer may
// announce (RFC 37, including the XPUB/XSUB protocol-level equivalents).
var peerTypes = [...][]string{
	PAIR:   {"PAIR"},
	PUB:    {"SUB", "XSUB"},
	SUB:    {"PUB", "XPUB"},
	REQ:    {"REP", "ROUTER"},
	REP:    {"REQ", "DEALER"},
	DEALER: {"REP", "DEALER", "ROUTER"},
	ROUTER: {"REQ", "DEALER", "ROUTER"},
	PULL:   {"PUSH"},
	PUSH:   {"PULL"},
}

// compatible reports whether a peer announcing socket type peer may talk to
// a socket of type t. Names compare case-insensitively.
func (t Type) compatible(peer string) bool {
	for _, p := range peerTypes[t] {
		if strings.EqualFold(p, peer) {
			return true
		}
	}
	return false
}
