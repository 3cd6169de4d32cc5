package runner_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"zbench/matrix"
	"zbench/runner"
)

// sideEngine opens its sockets on a shared fake engine (so that both sides
// can connect) and records the kinds it was asked for.
type sideEngine struct {
	name  string
	inner *fakeEngine
	mu    sync.Mutex
	kinds []string
}

func (e *sideEngine) Name() string                          { return e.name }
func (e *sideEngine) Supports(c matrix.Cell) (bool, string) { return e.inner.Supports(c) }
func (e *sideEngine) NewSocket(kind string, o runner.SocketOptions) (runner.Socket, error) {
	e.mu.Lock()
	e.kinds = append(e.kinds, kind)
	e.mu.Unlock()
	return e.inner.NewSocket(kind, o)
}

// mixedFake is a runner.MixedEngine over two side engines.
type mixedFake struct{ tx, rx *sideEngine }

func (m mixedFake) Name() string                        { return m.tx.name + matrix.MixedSep + m.rx.name }
func (m mixedFake) Supports(matrix.Cell) (bool, string) { return true, "" }
func (m mixedFake) NewSocket(kind string, _ runner.SocketOptions) (runner.Socket, error) {
	panic("RunCell asked a mixed engine itself for a " + kind + " socket")
}
func (m mixedFake) Sides() (runner.Engine, runner.Engine) { return m.tx, m.rx }

// In a mixed pair the sending side (stream sender, client of round trips)
// opens its sockets on the sender engine, the receiving side (stream
// receiver, echo) on the receiver engine.
func TestRunCellMixedSides(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	want := map[string][2][]string{ // sender kinds, receiver kinds
		matrix.PatternPair:         {{runner.KindPair}, {runner.KindPair}},
		matrix.PatternPushPull:     {{runner.KindPush, runner.KindPull}, {runner.KindPull, runner.KindPush}},
		matrix.PatternReqRep:       {{runner.KindReq}, {runner.KindRep}},
		matrix.PatternDealerRouter: {{runner.KindDealer}, {runner.KindRouter}},
		matrix.PatternPubSub:       {{runner.KindPub, runner.KindSub}, {runner.KindSub, runner.KindPub}},
	}
	for _, pattern := range matrix.Patterns {
		t.Run(pattern, func(t *testing.T) {
			inner := newFakeEngine()
			m := mixedFake{tx: &sideEngine{name: "a", inner: inner}, rx: &sideEngine{name: "b", inner: inner}}
			c := fakeCell(pattern, 2)
			c.Engine = m.Name()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := runner.RunCell(ctx, m, c, runner.CellOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkSample(t, c, s)
			for i, side := range []*sideEngine{m.tx, m.rx} {
				got := slices.Clone(side.kinds)
				slices.Sort(got)
				var w []string
				for range c.Sockets {
					w = append(w, want[pattern][i]...)
				}
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Errorf("engine %s opened %s, want %s", side.name, strings.Join(got, ","), strings.Join(w, ","))
				}
			}
		})
	}
}
