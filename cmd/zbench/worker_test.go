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
	job := runner.Job{Run: 3, IPCDir: t.TempDir(), Cell: matrix.Cell{
		Engine: engine, Pattern: matrix.PatternPushPull, Protocol: matrix.ProtocolIPC, Size: 48,
		OutBatchSize: 8192, WriteBatching: true, Sockets: 2,
		Workload: matrix.Workload{WarmupMessages: 10, ThroughputMessages: 200, LatencyRoundTrips: 20,
			Timeout: matrix.Duration(10 * time.Second)},
	}}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWorkerCommand(t *testing.T) {
	for _, engine := range []string{matrix.EngineZmq4, matrix.EngineZbench} {
		t.Run(engine, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"worker"}, strings.NewReader(workerJob(t, engine)), &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var s sample.Sample
			if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
				t.Fatalf("stdout is not a sample: %v\n%s", err, stdout.String())
			}
			if s.Status != sample.StatusOK || s.Run != 3 || !strings.Contains(s.Cell, "engine="+engine) ||
				s.Throughput.Messages != 400 || s.Latency.RoundTrips != 40 || s.FirstMessageUnixNs == 0 {
				t.Errorf("sample %+v", s)
			}
		})
	}
}

func TestWorkerBadJob(t *testing.T) {
	for name, job := range map[string]string{
		"not json":      "{",
		"unknown field": `{"cell":{},"run":1,"colour":"red"}`,
		"unsupported":   workerJob(t, matrix.EngineLibzmq),
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"worker"}, strings.NewReader(job), &stdout, &stderr)
			if code != exitBadInput || stdout.Len() != 0 || stderr.Len() == 0 {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
			}
		})
	}
}
