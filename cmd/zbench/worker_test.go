package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

func workerJob(t *testing.T, engine string) string {
	t.Helper()
	job := runner.Job{Run: 3, Role: sample.RoleBoth, IPCDir: t.TempDir(), Cell: matrix.Cell{
		Engine: engine, Pattern: matrix.PatternPushPull, Protocol: matrix.ProtocolIPC, Size: 48,
		OutBatchSize: 8192, WriteBatching: true, Sockets: 2, Processes: 1,
		Workload: matrix.Workload{WarmupMessages: 10, ThroughputMessages: 200, LatencyRoundTrips: 20,
			Timeout: matrix.Duration(10 * time.Second)},
	}}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return "job " + string(b) + "\n"
}

func TestWorkerCommand(t *testing.T) {
	for _, engine := range []string{matrix.EngineZmq4, matrix.EngineZbench} {
		t.Run(engine, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"worker"}, strings.NewReader(workerJob(t, engine)), &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			line, ok := strings.CutPrefix(stdout.String(), "sample ")
			var s sample.Sample
			if err := json.Unmarshal([]byte(line), &s); !ok || err != nil {
				t.Fatalf("stdout is not a sample line: %v\n%s", err, stdout.String())
			}
			if s.Status != sample.StatusOK || s.Run != 3 || !strings.Contains(s.Cell, "engine="+engine) ||
				s.Throughput.Messages != 400 || s.Latency.RoundTrips != 40 || len(s.Sides) != 1 || s.Sides[0].Role != sample.RoleBoth {
				t.Errorf("sample %+v", s)
			}
		})
	}
}

func TestWorkerBadJob(t *testing.T) {
	for name, job := range map[string]string{
		"no job line":   "begin warmup\n",
		"not json":      "job {\n",
		"unknown field": `job {"cell":{},"run":1,"role":"both","colour":"red"}` + "\n",
		"unknown role":  `job {"cell":{},"run":1,"role":"middle"}` + "\n",
		"unsupported":   workerJob(t, matrix.EngineLibzmq),
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"worker"}, strings.NewReader(job), &stdout, &stderr)
			if code != exitBadInput || !strings.HasPrefix(stdout.String(), "error ") || stderr.Len() == 0 {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
			}
		})
	}
}
