package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"zbench/host"
	"zbench/report"
)

func testEnv() report.Env {
	return report.Env{
		Time: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC), Hostname: "bench-1", OS: "linux", Arch: "amd64",
		Kernel: "Linux 6.8.0", CPUModel: "AMD EPYC 7B13", LogicalCores: 2, Affinity: "0-1,4", Governor: "none",
		GoVersion: "go1.26.8", GOMAXPROCS: 2, MemTotalBytes: 8 << 30, Version: "v0.1.0",
		Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true, CommitSource: report.CommitFromGit,
		NICs: []host.NIC{{Name: "lo", MTU: 65536, Up: true, Addrs: []string{"127.0.0.1/8"}},
			{Name: "eth0", SpeedMbps: 10000, MTU: 1500, Up: true, Addrs: []string{"10.0.0.1/24"}},
			{Name: "eth1", MTU: 1500}},
	}
}

// execEnv runs `zbench env args...` with a canned stamp.
func execEnv(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newEnvCmdWith(func(o *envOptions) error {
		o.collect = testEnv
		return runEnv(o)
	})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestEnvText(t *testing.T) {
	out, err := execEnv(t)
	if err != nil {
		t.Fatal(err)
	}
	want := `time:           2026-03-14T09:26:53Z
hostname:       bench-1
os/arch:        linux/amd64
kernel:         Linux 6.8.0
cpu:            AMD EPYC 7B13
logical cores:  2
affinity:       0-1,4
governor:       none
go:             go1.26.8
gomaxprocs:     2
memory:         8.00 GiB
zbench version: v0.1.0
commit:         0123456789abcdef0123456789abcdef01234567
dirty:          true
commit source:  git
network:        eth0 10000 Mb/s MTU 1500 10.0.0.1/24
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestEnvJSON(t *testing.T) {
	out, err := execEnv(t, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got report.Env
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(got, testEnv()) {
		t.Errorf("got %+v, want %+v", got, testEnv())
	}
	if !strings.Contains(out, `"affinity": "0-1,4"`) || !strings.Contains(out, `"zbench_version": "v0.1.0"`) {
		t.Errorf("JSON keys not snake_case:\n%s", out)
	}
}

func TestEnvBadInput(t *testing.T) {
	for _, args := range [][]string{{"env", "extra"}, {"env", "--bogus"}, {"version", "extra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitBadInput {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitBadInput, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v printed %q", args, stdout.String())
		}
	}
}

func TestEnvRealMachine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"env", "--json"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var e report.Env
	if err := json.Unmarshal(stdout.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e.Version != report.Version || e.Affinity == "" || e.Commit == "" || e.Time.IsZero() {
		t.Errorf("stamp %+v", e)
	}
}
