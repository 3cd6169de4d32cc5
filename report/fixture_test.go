package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner/sample"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var fixedStart = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func fixedEnv() Env {
	return Env{
		Time:          fixedStart,
		Hostname:      "bench-1",
		OS:            "linux",
		Arch:          "amd64",
		Kernel:        "Linux 6.8.0-45-generic",
		CPUModel:      "AMD EPYC 7B13",
		LogicalCores:  2,
		Affinity:      "0-1",
		Governor:      "performance",
		GoVersion:     "go1.26.8",
		GOMAXPROCS:    2,
		MemTotalBytes: 8 << 30,
		Version:       "v0.1.0",
		Commit:        "0123456789abcdef0123456789abcdef01234567",
		Dirty:         true,
		CommitSource:  CommitFromGit,
	}
}

var testWorkload = matrix.Workload{
	WarmupMessages:     1000,
	ThroughputMessages: 100000,
	LatencyRoundTrips:  10000,
	Timeout:            matrix.Duration(time.Minute),
}

func cell(protocol string, size, obs int, wb bool, sockets int) matrix.Cell {
	return matrix.Cell{Engine: "zbench", Pattern: "pair", Protocol: protocol, Size: size,
		OutBatchSize: obs, WriteBatching: wb, Sockets: sockets, Processes: 2, Workload: testWorkload}
}

// okSample is a complete ok sample whose figures scale with base and vary
// a little with run.
func okSample(c matrix.Cell, run int, base float64) sample.Sample {
	jitter := float64(100+run%3) / 100 // no multiply-add: identical on every platform
	msgs := int64(100000 * c.Sockets)
	secs := float64(msgs) / (base * jitter)
	rtt := int64(1e9 / base * 20 * jitter)
	return sample.Sample{
		Cell:              c.ID(),
		Run:               run,
		Status:            sample.StatusOK,
		StartedAt:         fixedStart.Add(time.Duration(run) * time.Second),
		WallNs:            int64(secs*1e9) + 5e8,
		HarnessOverheadNs: 40e6 + int64(run)*1e6,
		Throughput: sample.Throughput{
			Messages:   msgs,
			Bytes:      msgs * int64(c.Size),
			Seconds:    secs,
			MsgsPerSec: base * jitter,
			MBPerSec:   base * jitter * float64(c.Size) / 1e6,
		},
		Latency: sample.Latency{
			RoundTrips:   10000,
			RTTP50Ns:     rtt,
			RTTP99Ns:     rtt * 3,
			RTTP999Ns:    rtt * 5,
			RTTMaxNs:     rtt * 40,
			RTTMeanNs:    float64(rtt) * 1.2,
			OneWayMeanNs: float64(rtt) * 0.6,
		},
		Resources: sample.Resources{
			UserCPUNs:      6e8,
			SysCPUNs:       3e8,
			CPUPercent:     90 + float64(run),
			CPUNsPerMsg:    9e8 / float64(msgs+10000),
			PeakRSSBytes:   12<<20 + int64(run)<<16,
			RSSGrowthBytes: 4<<20 + int64(run)<<16,
			AffinityMask:   "0-1",
		},
		Engine: sample.Telemetry{
			Available:       true,
			MsgsOut:         uint64(msgs + 10000),
			BytesOut:        uint64(msgs+10000) * uint64(c.Size),
			Writes:          uint64(msgs / 10),
			BatchedWrites:   uint64(msgs/10 - 100),
			ImmediateWrites: 100,
			PartialHandoffs: uint64(run % 2),
			MsgsPerWrite:    10,
		},
		LatencyEngine: sample.Telemetry{
			Available:       true,
			MsgsOut:         10000,
			Writes:          10000,
			BatchedWrites:   uint64(100 + run),
			ImmediateWrites: uint64(9900 - run),
			MsgsPerWrite:    1,
		},
		Runtime:   sample.Runtime{Reported: true, GCCycles: 3, GCPauseNs: 120000, Mallocs: 5000, AllocsPerMsg: 0.05},
		Processes: 2,
		Sides: []sample.Side{
			{Role: sample.RoleSender, Engine: c.Engine, PID: 100 + run, GOMAXPROCS: 1, Affinity: "1",
				StartRSSBytes: 4 << 20, UserCPUNs: 3e8, SysCPUNs: 1e8, PeakRSSBytes: 6<<20 + int64(run)<<16,
				Throughput: sample.Usage{UserCPUNs: int64(secs * 6e8), SysCPUNs: int64(secs * 2e8), PeakRSSBytes: 6 << 20}},
			{Role: sample.RoleReceiver, Engine: c.Engine, PID: 200 + run, GOMAXPROCS: 1, Affinity: "0",
				StartRSSBytes: 4 << 20, UserCPUNs: 3e8, SysCPUNs: 2e8, PeakRSSBytes: 6 << 20,
				Throughput: sample.Usage{UserCPUNs: int64(secs * 4e8), SysCPUNs: int64(secs * 2e8), PeakRSSBytes: 6 << 20}},
		},
	}
}

func badSample(c matrix.Cell, run int, status, msg string) sample.Sample {
	return sample.Sample{Cell: c.ID(), Run: run, Status: status, Error: msg,
		StartedAt: fixedStart.Add(time.Duration(run) * time.Second), WallNs: 2e9}
}

// fixture is a small invocation covering every kind of cell: ok with enough
// runs for a CI, ok with an outlier, partial, all failed, unsupported, ok
// without telemetry, and not run.
func fixture() ([]matrix.Cell, []sample.Sample) {
	cOK := cell("tcp", 32, 8192, true, 1)
	cOutlier := cell("tcp", 32, 1, true, 1)
	cPartial := cell("tcp", 1024, 8192, true, 1)
	cFailed := cell("tcp", 1024, 1, false, 1)
	cUnsupported := cell("ws", 32, 8192, true, 1)
	cNoTelemetry := cell("ipc", 32, 8192, true, 2)
	cNotRun := cell("ipc", 1024, 8192, true, 2)
	cells := []matrix.Cell{cOK, cOutlier, cPartial, cFailed, cUnsupported, cNoTelemetry, cNotRun}

	var ss []sample.Sample
	for run := 1; run <= 6; run++ {
		ss = append(ss, okSample(cOK, run, 1.2e6))
	}
	for run := 1; run <= 6; run++ {
		s := okSample(cOutlier, run, 3e5)
		if run == 4 {
			s.Latency.RTTP99Ns *= 10
		}
		ss = append(ss, s)
	}
	for run := 1; run <= 3; run++ {
		ss = append(ss, okSample(cPartial, run, 8e5))
	}
	ss = append(ss, badSample(cPartial, 4, sample.StatusTimeout, "killed after 1m0s"))
	ss = append(ss, badSample(cFailed, 1, sample.StatusFailed, "worker exited with status 2: dial tcp: connection refused"))
	ss = append(ss, badSample(cFailed, 2, sample.StatusFailed, "worker exited with status 2: dial tcp: connection refused"))
	ss = append(ss, badSample(cUnsupported, 1, sample.StatusUnsupported, "ws transport not built in"))
	for run := 1; run <= 2; run++ {
		s := okSample(cNoTelemetry, run, 9e5)
		s.Engine = sample.Telemetry{}
		ss = append(ss, s)
	}
	return cells, ss
}

func fixtureResult() *Result {
	cells, samples := fixture()
	inv := Invocation{
		Start:        fixedStart,
		End:          fixedStart.Add(3*time.Minute + 12*time.Second),
		Command:      []string{"zbench", "run", "--runs", "6", "--cpus", "0-1"},
		ScenarioFile: "scenarios.yaml",
		Profile:      "quick",
		Runs:         6,
		Filter:       []string{"engine=zbench"},
		CPUs:         "0-1",
		Affinity:     "0-1",
	}
	scenario := map[string]any{"profile": "quick", "protocol": []string{"tcp", "ipc", "ws"}}
	return NewResult(inv, fixedEnv(), scenario, cells, samples)
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}
