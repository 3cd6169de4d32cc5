package runner

import (
	"runtime/metrics"
	"sync"
	"time"

	"zbench/host"
	"zbench/runner/sample"
)

// MemInterval is how often a worker samples its own memory.
const MemInterval = 10 * time.Millisecond

// maxMemPoints bounds the series a worker reports: a longer one is thinned
// to this many points, each keeping the largest values of the samples it
// stands for, so that no peak is lost.
const maxMemPoints = 512

// heapMetric is the Go heap in use: bytes of live and not yet swept objects.
const heapMetric = "/memory/classes/heap/objects:bytes"

// memSampler records the process's resident set and Go heap every
// MemInterval until stopped.
//
// It allocates nothing per sample once under way (a reused metrics slice, a
// reused read of /proc/self/statm, a series with room for a minute), so
// that it does not show in the allocation and GC figures it runs beside.
type memSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	pts   []sample.MemPoint
	heap  []metrics.Sample
	rss   *host.RSSReader
}

func startMemSampler(interval time.Duration) *memSampler {
	m := &memSampler{stopc: make(chan struct{}), pts: make([]sample.MemPoint, 0, 6000),
		heap: []metrics.Sample{{Name: heapMetric}}, rss: host.NewRSSReader()}
	m.take()
	m.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stopc:
				return
			case <-t.C:
				m.take()
			}
		}
	})
	return m
}

func (m *memSampler) take() {
	p := sample.MemPoint{TimeNs: Mono()}
	p.RSSBytes, _ = m.rss.Read()
	metrics.Read(m.heap)
	if m.heap[0].Value.Kind() == metrics.KindUint64 {
		p.HeapBytes = int64(m.heap[0].Value.Uint64())
	}
	m.pts = append(m.pts, p)
}

// stop ends the sampling, takes a last point and returns the series,
// thinned to maxMemPoints. Later calls return the same series.
func (m *memSampler) stop() []sample.MemPoint {
	m.once.Do(func() {
		close(m.stopc)
		m.wg.Wait()
		m.take()
		m.rss.Close()
		m.pts = thin(m.pts, maxMemPoints)
	})
	return m.pts
}

// thin reduces pts to at most n points: consecutive runs of points merge
// into one stamped with the run's first time and holding its largest RSS and
// heap.
func thin(pts []sample.MemPoint, n int) []sample.MemPoint {
	if len(pts) <= n {
		return pts
	}
	per := (len(pts) + n - 1) / n
	out := make([]sample.MemPoint, 0, n)
	for i := 0; i < len(pts); i += per {
		p := pts[i]
		for _, q := range pts[i+1 : min(i+per, len(pts))] {
			p.RSSBytes = max(p.RSSBytes, q.RSSBytes)
			p.HeapBytes = max(p.HeapBytes, q.HeapBytes)
		}
		out = append(out, p)
	}
	return out
}
