package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"zbench/runner/sample"
)

// The two-host test's addresses come from 198.18.0.0/15, the range set
// aside for benchmarking network devices (RFC 2544); they exist only inside
// the namespaces the test creates.
const (
	senderAddr   = "198.18.0.1"
	receiverAddr = "198.18.0.2"
	sshPort      = "2222"
)

// twoHosts is a pair of network namespaces joined by a veth pair, with an
// sshd in the receiver's: two hosts in one machine.
type twoHosts struct {
	dir        string
	nsA, nsB   string
	zbench     string // a zbench binary built for the test
	sshConfig  string
	remoteDir  string
	sshd       *exec.Cmd
	sshdStderr bytes.Buffer
}

// needTwoHosts skips the test, saying why, unless it can build network
// namespaces (root, iproute2) and run OpenSSH's server and client.
func needTwoHosts(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("two-host test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("two-host test skipped: creating network namespaces needs root")
	}
	for _, bin := range []string{"ip", "ssh", "ssh-keygen", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("two-host test skipped: %s not found (Debian: apt-get install -y iproute2 openssh-server openssh-client)", bin)
		}
	}
	probe := fmt.Sprintf("zbprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("two-host test skipped: this machine cannot create network namespaces: %s", strings.TrimSpace(string(out)))
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
}

func run1(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// newTwoHosts builds the namespaces, the link, the keys and the sshd, and
// registers their removal.
func newTwoHosts(t *testing.T) *twoHosts {
	t.Helper()
	pid := os.Getpid()
	th := &twoHosts{dir: t.TempDir(), nsA: fmt.Sprintf("zbA%d", pid), nsB: fmt.Sprintf("zbB%d", pid)}
	th.zbench = filepath.Join(th.dir, "zbench")
	build := exec.Command("go", "build", "-o", th.zbench, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", th.nsA).Run()
		_ = exec.Command("ip", "netns", "del", th.nsB).Run()
	})
	run1(t, "ip", "netns", "add", th.nsA)
	run1(t, "ip", "netns", "add", th.nsB)
	vA, vB := fmt.Sprintf("zbva%d", pid%100000), fmt.Sprintf("zbvb%d", pid%100000)
	run1(t, "ip", "link", "add", vA, "netns", th.nsA, "type", "veth", "peer", "name", vB, "netns", th.nsB)
	run1(t, "ip", "-n", th.nsA, "addr", "add", senderAddr+"/30", "dev", vA)
	run1(t, "ip", "-n", th.nsB, "addr", "add", receiverAddr+"/30", "dev", vB)
	for _, ns := range []struct{ ns, dev string }{{th.nsA, vA}, {th.nsB, vB}, {th.nsA, "lo"}, {th.nsB, "lo"}} {
		run1(t, "ip", "-n", ns.ns, "link", "set", ns.dev, "up")
	}

	key, hostKey := filepath.Join(th.dir, "id"), filepath.Join(th.dir, "hostkey")
	run1(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	run1(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(th.dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	sshdConfig := filepath.Join(th.dir, "sshd_config")
	if err := os.WriteFile(sshdConfig, []byte(fmt.Sprintf(`ListenAddress %s:%s
HostKey %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile %s
LogLevel ERROR
`, receiverAddr, sshPort, hostKey, authorized, filepath.Join(th.dir, "sshd.pid"))), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	th.sshd = exec.Command("ip", "netns", "exec", th.nsB, "/usr/sbin/sshd", "-D", "-e", "-f", sshdConfig)
	th.sshd.Stderr = &th.sshdStderr
	if err := th.sshd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = th.sshd.Process.Kill()
		_ = th.sshd.Wait()
	})

	th.sshConfig = filepath.Join(th.dir, "ssh_config")
	if err := os.WriteFile(th.sshConfig, []byte(fmt.Sprintf(`Host %s
  User root
  Port %s
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  StrictHostKeyChecking accept-new
`, receiverAddr, sshPort, key, filepath.Join(th.dir, "known_hosts"))), 0o600); err != nil {
		t.Fatal(err)
	}
	th.remoteDir = filepath.Join(th.dir, "remote-cache")
	// Wait for sshd to answer.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmd := exec.Command("ip", "netns", "exec", th.nsA, "ssh", "-F", th.sshConfig, "-o", "BatchMode=yes", receiverAddr, "true")
		if out, err := cmd.CombinedOutput(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("sshd in %s does not answer: %v\n%s\nsshd: %s", th.nsB, err, out, th.sshdStderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return th
}

// run runs zbench in the sender's namespace.
func (th *twoHosts) run(ctx context.Context, args ...string) (int, string, string) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", th.nsA, th.zbench}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return code, stdout.String(), stderr.String()
}

// remoteWorkers lists the pids of zbench workers started from the remote
// cache directory.
func (th *twoHosts) remoteWorkers() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) >= 2 && strings.HasPrefix(args[0], th.remoteDir) && args[1] == "worker" {
			pids = append(pids, pid)
		}
	}
	return pids
}

const twoHostScenario = `default_profile: link
defaults: {runs: 2, warmup_messages: 200, throughput_duration: 300ms, latency_round_trips: 500, timeout: 30s}
profiles:
  link:
    protocol: [tcp, ws]
    size: [32, 1024]
  long:
    protocol: [tcp]
    size: [32]
    throughput_duration: 4s
  load:
    protocol: [tcp]
    size: [32]
    rate: [20000]
`

// The sender here, the receiver on another host over SSH (a namespace
// joined by a veth pair): results arrive with the remote host's stamp, and
// a remote worker killed mid-run fails that run, names the host, and leaves
// nothing running; the next run goes on.
func TestTwoHosts(t *testing.T) {
	needTwoHosts(t)
	th := newTwoHosts(t)
	scen := filepath.Join(th.dir, "s.yaml")
	if err := os.WriteFile(scen, []byte(twoHostScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(th.dir, "results")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hostArgs := []string{"--scenarios", scen, "--out", out, "--hosts", "sender=local,receiver=" + receiverAddr,
		"--data-address", "receiver=" + receiverAddr, "--ssh-config", th.sshConfig, "--remote-dir", th.remoteDir}

	code, stdout, stderr := th.run(ctx, append([]string{"run"}, hostArgs...)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nsshd: %s", code, stdout, stderr, th.sshdStderr.String())
	}
	t.Logf("two hosts:\n%s", stdout)
	res := readResultsJSON(t, out)
	if len(res.Samples) != 8 {
		t.Fatalf("%d samples, want 8", len(res.Samples))
	}
	for _, s := range res.Samples {
		if s.Status != sample.StatusOK {
			t.Fatalf("%s run %d: %s: %s\n%s", s.Cell, s.Run, s.Status, s.Error, s.Stderr)
		}
		rx, _ := s.Side(sample.RoleReceiver)
		tx, _ := s.Side(sample.RoleSender)
		if rx.Host != receiverAddr || tx.Host != "local" {
			t.Errorf("%s: sides on %q and %q", s.Cell, tx.Host, rx.Host)
		}
		if s.Throughput.Clock != "receiver" || s.Throughput.MsgsPerSec <= 0 || s.Latency.RTTP50Ns <= 0 {
			t.Errorf("%s: throughput %+v, latency %+v", s.Cell, s.Throughput, s.Latency)
		}
	}
	if len(res.Invocation.Hosts) != 2 {
		t.Fatalf("hosts %+v, want both sides recorded", res.Invocation.Hosts)
	}
	remote := res.Invocation.Hosts[1]
	if remote.Role != sample.RoleReceiver || remote.Host != receiverAddr || remote.Env == nil || remote.Env.Kernel == "" {
		t.Fatalf("remote host record %+v", remote)
	}
	found := false
	for _, n := range remote.Env.NICs {
		for _, a := range n.Addrs {
			found = found || strings.HasPrefix(a, receiverAddr+"/") && n.MTU > 0
		}
	}
	if !found {
		t.Errorf("the remote stamp lacks the data link: %+v", remote.Env.NICs)
	}
	if left := th.remoteWorkers(); len(left) != 0 {
		t.Errorf("remote workers left running: %v", left)
	}
	// Open loop across hosts: round trips from the intended send times,
	// timed on the sender's clock.
	outLoad := filepath.Join(th.dir, "results-load")
	loadArgs := append([]string{"run", "--profile", "load", "--runs", "1"}, hostArgs...)
	loadArgs[indexOf(loadArgs, "--out")+1] = outLoad
	if code, stdout, stderr := th.run(ctx, loadArgs...); code != 0 {
		t.Fatalf("load: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if s := readResultsJSON(t, outLoad).Samples[0]; s.Status != sample.StatusOK || s.Load == nil ||
		s.Load.Kind != sample.LoadRoundTrip || s.Load.Messages == 0 || s.Load.P99Ns <= 0 {
		t.Errorf("open loop across hosts: %s %s, load %+v", s.Status, s.Error, s.Load)
	}
	// The same matrix over loopback, both sides in the sender's namespace,
	// for the figures beside the link's.
	code, stdout, stderr = th.run(ctx, "run", "--scenarios", scen, "--out", filepath.Join(th.dir, "results-loopback"))
	if code != 0 {
		t.Fatalf("loopback: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("loopback, same matrix:\n%s", stdout)

	// Kill the remote worker of run 1 mid-run.
	out2 := filepath.Join(th.dir, "results-kill")
	args := append([]string{"run", "--profile", "long"}, hostArgs...)
	args[indexOf(args, "--out")+1] = out2
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		c, o, e := th.run(ctx, args...)
		done <- result{c, o, e}
	}()
	var killed int
	for deadline := time.Now().Add(20 * time.Second); killed == 0 && time.Now().Before(deadline); {
		if pids := th.remoteWorkers(); len(pids) > 0 {
			time.Sleep(1500 * time.Millisecond) // into the 4 s throughput phase
			killed = pids[0]
			_ = syscall.Kill(killed, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if killed == 0 {
		t.Fatal("no remote worker appeared")
	}
	r := <-done
	if r.code != 1 {
		t.Fatalf("exit %d after a remote worker was killed, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	res2 := readResultsJSON(t, out2)
	if len(res2.Samples) != 2 {
		t.Fatalf("%d samples, want the failed run and the next one", len(res2.Samples))
	}
	if s := res2.Samples[0]; s.Status != sample.StatusFailed || !strings.Contains(s.Error, "receiver side on "+receiverAddr) {
		t.Errorf("killed run: %s: %q, want failed naming the receiver's host", s.Status, s.Error)
	}
	if s := res2.Samples[1]; s.Status != sample.StatusOK {
		t.Errorf("the run after: %s: %s", s.Status, s.Error)
	}
	if left := th.remoteWorkers(); len(left) != 0 {
		t.Errorf("remote workers left running: %v", left)
	}
}

// Hosts that cannot be used fail their runs with the host and ssh's own
// words: a port nobody listens on, a key the host refuses. Ctrl-C stops
// both sides.
func TestTwoHostsFailures(t *testing.T) {
	needTwoHosts(t)
	th := newTwoHosts(t)
	scen := filepath.Join(th.dir, "s.yaml")
	if err := os.WriteFile(scen, []byte(twoHostScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base, err := os.ReadFile(th.sshConfig)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := filepath.Join(th.dir, "other")
	run1(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey)
	for name, c := range map[string]struct{ config, want string }{
		"closed port": {strings.Replace(string(base), "Port "+sshPort, "Port 2223", 1), "Connection refused"},
		"refused key": {strings.Replace(string(base), "IdentityFile "+filepath.Join(th.dir, "id"), "IdentityFile "+otherKey, 1), "Permission denied"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(th.dir, strings.ReplaceAll(name, " ", "-")+".config")
			if err := os.WriteFile(cfg, []byte(c.config), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(th.dir, "results-"+strings.ReplaceAll(name, " ", "-"))
			code, stdout, stderr := th.run(ctx, "run", "--scenarios", scen, "--out", out, "--runs", "1", "--filter", "protocol=tcp,size=32",
				"--hosts", "receiver="+receiverAddr, "--data-address", "receiver="+receiverAddr, "--ssh-config", cfg, "--remote-dir", th.remoteDir)
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			res := readResultsJSON(t, out)
			if len(res.Samples) != 1 {
				t.Fatalf("%d samples", len(res.Samples))
			}
			s := res.Samples[0]
			if s.Status != sample.StatusFailed || !strings.Contains(s.Error, "receiver side on "+receiverAddr) || !strings.Contains(s.Error, c.want) {
				t.Errorf("%s: %q, want failed naming the host and %q", s.Status, s.Error, c.want)
			}
		})
	}

	t.Run("interrupt", func(t *testing.T) {
		out := filepath.Join(th.dir, "results-interrupt")
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", th.nsA, th.zbench, "run", "--scenarios", scen, "--profile", "long",
			"--out", out, "--hosts", "receiver="+receiverAddr, "--data-address", "receiver="+receiverAddr,
			"--ssh-config", th.sshConfig, "--remote-dir", th.remoteDir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); len(th.remoteWorkers()) == 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second)
		// `ip netns exec` execs zbench: the pid is zbench's.
		start := time.Now()
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGINT)
		err := cmd.Wait()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("zbench took %v to stop after Ctrl-C", d)
		}
		if !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("stderr does not say the run was interrupted:\n%s", stderr.String())
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("after Ctrl-C: %v, want exit 1\n%s", err, stderr.String())
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(th.remoteWorkers()) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if left := th.remoteWorkers(); len(left) != 0 {
			t.Errorf("remote workers left running after Ctrl-C: %v", left)
		}
	})
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// twoHostResult is the part of results.json the two-host test reads.
type twoHostResult struct {
	Invocation struct {
		Hosts []struct {
			Role string `json:"role"`
			Host string `json:"host"`
			Env  *struct {
				Kernel string `json:"kernel"`
				NICs   []struct {
					Name  string   `json:"name"`
					MTU   int      `json:"mtu"`
					Addrs []string `json:"addrs"`
				} `json:"nics"`
			} `json:"env"`
		} `json:"hosts"`
	} `json:"invocation"`
	Samples []sample.Sample `json:"samples"`
}

func readResultsJSON(t *testing.T, out string) twoHostResult {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "latest", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r twoHostResult
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}
