package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"zbench/runner/sample"
)

// The side protocol: the coordinator and a side process exchange lines of
// text, one command or event per line, a verb and its arguments separated
// by spaces; a JSON argument is the rest of the line. A program other than
// zbench (libzmq's C side) can speak it with printf and a line reader.
//
//	coordinator → side            side → coordinator
//	job {Job}  (first; zbench)    bound EP...       (receiver)
//	bind                          connected         (sender)
//	connect EP...                 ready PHASE
//	begin PHASE [T0]              seen PHASE
//	peer-seen PHASE               done PHASE {PhaseReport}
//	finish                        report {sample.Side}
//	                              sample {sample.Sample} (processes 1)
//	                              error MESSAGE
const (
	lineJob    = "job"
	lineSample = "sample"
)

// ErrProtocol is returned for a line of the side protocol that cannot be read.
var ErrProtocol = errors.New("runner: side protocol")

func (c command) line() string {
	switch c.op {
	case opConnect:
		return strings.Join(append([]string{c.op}, c.endpoints...), " ")
	case opBegin:
		if c.at != 0 {
			return c.op + " " + c.phase + " " + strconv.FormatInt(c.at, 10)
		}
		return c.op + " " + c.phase
	case opPeerSeen:
		return c.op + " " + c.phase
	}
	return c.op
}

func parseCommand(line string) (command, error) {
	verb, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	c := command{op: verb}
	switch verb {
	case opBind, opFinish:
	case opConnect:
		c.endpoints = strings.Fields(rest)
	case opBegin, opPeerSeen:
		ph, at, hasAt := strings.Cut(rest, " ")
		if !validPhase(ph) {
			return c, fmt.Errorf("%w: %q: unknown phase %q", ErrProtocol, line, ph)
		}
		c.phase = ph
		if hasAt && verb == opBegin {
			n, err := strconv.ParseInt(at, 10, 64)
			if err != nil {
				return c, fmt.Errorf("%w: %q: schedule start %q is not an integer", ErrProtocol, line, at)
			}
			c.at = n
		}
	default:
		return c, fmt.Errorf("%w: unknown command %q", ErrProtocol, line)
	}
	return c, nil
}

func validPhase(p string) bool {
	switch p {
	case PhaseSync, PhaseWarmup, PhaseThroughput, PhaseLatency:
		return true
	}
	return false
}

func (e event) line() (string, error) {
	switch e.kind {
	case evBound:
		return strings.Join(append([]string{e.kind}, e.endpoints...), " "), nil
	case evConnected:
		return e.kind, nil
	case evReady, evSeen:
		return e.kind + " " + e.phase, nil
	case evDone:
		b, err := json.Marshal(e.report)
		return e.kind + " " + e.phase + " " + string(b), err
	case evReport:
		b, err := json.Marshal(e.side)
		return e.kind + " " + string(b), err
	case evError:
		return e.kind + " " + strings.ReplaceAll(e.err.Error(), "\n", " "), nil
	}
	return "", fmt.Errorf("%w: no line for event %q", ErrProtocol, e.kind)
}

func parseEvent(line string) (event, error) {
	verb, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	e := event{kind: verb}
	switch verb {
	case evBound:
		e.endpoints = strings.Fields(rest)
		if len(e.endpoints) == 0 {
			return e, fmt.Errorf("%w: %q names no endpoint", ErrProtocol, line)
		}
	case evConnected:
	case evReady, evSeen:
		if !validPhase(rest) {
			return e, fmt.Errorf("%w: %q: unknown phase", ErrProtocol, line)
		}
		e.phase = rest
	case evDone:
		ph, js, _ := strings.Cut(rest, " ")
		if !validPhase(ph) {
			return e, fmt.Errorf("%w: %q: unknown phase", ErrProtocol, line)
		}
		e.phase = ph
		if err := json.Unmarshal([]byte(js), &e.report); err != nil {
			return e, fmt.Errorf("%w: done %s: %v", ErrProtocol, ph, err)
		}
	case evReport:
		if err := json.Unmarshal([]byte(rest), &e.side); err != nil {
			return e, fmt.Errorf("%w: report: %v", ErrProtocol, err)
		}
	case evError:
		e.err = fmt.Errorf("%w: %s", errSideFailed, rest)
	default:
		return e, fmt.Errorf("%w: unknown event %q", ErrProtocol, truncate(line, 200))
	}
	return e, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sampleLine and parseSampleLine carry a whole run's sample (a worker that
// ran both sides).
func sampleLine(s sample.Sample) (string, error) {
	b, err := json.Marshal(s)
	return lineSample + " " + string(b), err
}
