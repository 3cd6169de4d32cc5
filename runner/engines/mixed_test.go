package engines_test

import (
	"slices"
	"strings"
	"testing"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/engines"
	"zbench/runner/sample"
)

// Every mixed pair the matrix allows has an engine, and it is a
// runner.MixedEngine whose sides are the engines its name gives.
func TestMixedRegistered(t *testing.T) {
	for _, name := range matrix.Engines {
		sender, receiver, mixed := matrix.SplitEngine(name)
		if !mixed {
			continue
		}
		eng, ok := engines.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		m, ok := eng.(runner.MixedEngine)
		if !ok || eng.Name() != name {
			t.Fatalf("%s: %T named %q, want a runner.MixedEngine", name, eng, eng.Name())
		}
		tx, rx := m.Sides()
		if tx == nil || rx == nil || tx.Name() != sender || rx.Name() != receiver {
			t.Errorf("%s: sides %v, %v; want %s sends, %s receives", name, tx, rx, sender, receiver)
		}
		if _, err := eng.NewSocket(runner.KindPair, runner.SocketOptions{}); err == nil {
			t.Errorf("%s: NewSocket on the mixed engine itself succeeded", name)
		}
	}
}

// A mixed pair runs what both sides can run; its reasons and notes say which
// side they come from, and the axes either side cannot set are n/a.
func TestMixedSupports(t *testing.T) {
	zbZmq4 := engines.NewMixed(engines.ZbenchName, engines.Zmq4Name)
	c := cell(zbZmq4.Name(), matrix.PatternPair, matrix.ProtocolTCP, 32, 1)
	ok, note := zbZmq4.Supports(c)
	axes, why, isNA := sample.ParseNotApplicable(note)
	if !ok || !isNA || !slices.Equal(axes, []string{matrix.AxisOutBatchSize, matrix.AxisWriteBatching}) ||
		!strings.HasPrefix(why, "receiver zmq4: ") {
		t.Errorf("zbench>zmq4 at default batching: %v %q, want supported, batching axes n/a because of receiver zmq4", ok, note)
	}
	c.OutBatchSize = 1
	if ok, reason := zbZmq4.Supports(c); ok || !strings.HasPrefix(reason, "receiver zmq4: ") {
		t.Errorf("zbench>zmq4 at out_batch_size 1: %v %q, want unsupported by receiver zmq4", ok, reason)
	}
	zmq4Zb := engines.NewMixed(engines.Zmq4Name, engines.ZbenchName)
	if ok, reason := zmq4Zb.Supports(cell(zmq4Zb.Name(), matrix.PatternPair, matrix.ProtocolWS, 32, 1)); ok || !strings.HasPrefix(reason, "sender zmq4: ") {
		t.Errorf("zmq4>zbench over ws: %v %q, want unsupported by sender zmq4", ok, reason)
	}
	zbZb := engines.NewMixed(engines.ZbenchName, engines.ZbenchName)
	if ok, note := zbZb.Supports(cell(zbZb.Name(), matrix.PatternPair, matrix.ProtocolTCP, 32, 1)); !ok || note != "" {
		t.Errorf("zbench>zbench: %v %q, want supported without notes", ok, note)
	}
	if ok, reason := engines.NewMixed(engines.ZbenchName, "nanomsg").Supports(c); ok || !strings.Contains(reason, "receiver nanomsg: unknown engine") {
		t.Errorf("zbench>nanomsg: %v %q", ok, reason)
	}
	nested := engines.NewMixed(matrix.EngineZbenchToLibzmq, engines.ZbenchName)
	if ok, reason := nested.Supports(c); ok || !strings.Contains(reason, "cannot be a side") {
		t.Errorf("a mixed pair as a side: %v %q", ok, reason)
	}
}

// The interoperability check between the two pure Go engines, every
// pattern over tcp and ipc: the embedded engine sends, zmq4 receives and
// echoes, and the reverse.
func TestMixedZbenchZmq4EveryPattern(t *testing.T) {
	protocols := []string{matrix.ProtocolTCP, matrix.ProtocolIPC}
	for _, m := range []engines.Mixed{
		engines.NewMixed(engines.ZbenchName, engines.Zmq4Name),
		engines.NewMixed(engines.Zmq4Name, engines.ZbenchName),
	} {
		t.Run(m.Name(), func(t *testing.T) {
			for _, s := range runEngine(t, m, protocols, nil) {
				if s.Engine.Available {
					t.Errorf("%s: telemetry %+v from a pair with a zmq4 side", s.Cell, s.Engine)
				}
			}
		})
	}
}
