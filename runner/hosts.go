package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"zbench/host"
	"zbench/matrix"
	"zbench/runner/sample"
)

// HostLocal names this machine in --hosts.
const HostLocal = "local"

// ErrBadHosts is wrapped by every error ParseHosts and ParseDataAddress
// return.
var ErrBadHosts = errors.New("bad hosts")

// Hosts says where each side of a run runs: on this machine, or on another
// one reached with the system's OpenSSH client (so ~/.ssh/config, the agent
// and known_hosts apply; BatchMode=yes, so it never prompts). The zero value
// runs both sides here.
type Hosts struct {
	// Sender and Receiver are HostLocal (or "") or an SSH destination,
	// user@host[:port].
	Sender, Receiver string
	// DataAddress is the address each side's data sockets use, by role:
	// the receiver binds its endpoints on it (default 127.0.0.1), which is
	// then what the sender connects to; SSH's address is often not the
	// data network's.
	DataAddress map[string]string
	// SSHConfig, if set, is passed to ssh as -F.
	SSHConfig string
	// RemoteDir is where zbench is cached on a remote host; "" means
	// $HOME/.cache/zbench there.
	RemoteDir string
	// ConnectTimeout bounds ssh's connection set-up; 0 means 10 s.
	ConnectTimeout time.Duration
}

// ParseHosts reads --hosts: "sender=HOST,receiver=HOST", HOST being "local"
// or user@host[:port]; a side not named stays local.
func ParseHosts(s string) (Hosts, error) {
	var h Hosts
	for term := range strings.SplitSeq(s, ",") {
		role, dest, ok := strings.Cut(strings.TrimSpace(term), "=")
		dest = strings.TrimSpace(dest)
		if !ok || dest == "" {
			return h, fmt.Errorf("%w %q: want ROLE=HOST; allowed roles: sender, receiver; HOST: local or user@host[:port]", ErrBadHosts, term)
		}
		if strings.ContainsAny(dest, " \t'\"`$;|&<>") {
			return h, fmt.Errorf("%w: %q is not an SSH destination (user@host[:port])", ErrBadHosts, dest)
		}
		switch role {
		case sample.RoleSender:
			h.Sender = dest
		case sample.RoleReceiver:
			h.Receiver = dest
		default:
			return h, fmt.Errorf("%w: unknown role %q; allowed: sender, receiver", ErrBadHosts, role)
		}
	}
	return h, nil
}

// ParseDataAddress reads --data-address: "receiver=ADDR". Only the
// receiver's address is used: it binds, the sender connects to it.
func ParseDataAddress(s string) (map[string]string, error) {
	out := map[string]string{}
	for term := range strings.SplitSeq(s, ",") {
		role, addr, ok := strings.Cut(strings.TrimSpace(term), "=")
		addr = strings.TrimSpace(addr)
		if !ok || addr == "" || strings.ContainsAny(addr, " /:") && !strings.HasPrefix(addr, "[") {
			return nil, fmt.Errorf("%w: --data-address %q: want receiver=ADDRESS (an IP address or host name)", ErrBadHosts, term)
		}
		if role != sample.RoleReceiver {
			return nil, fmt.Errorf("%w: --data-address %s=…: only receiver= is used (the receiver binds, the sender connects to it)", ErrBadHosts, role)
		}
		out[role] = addr
	}
	return out, nil
}

// of returns the host of a role ("" for local); RoleBoth runs on the
// sender's host.
func (h Hosts) of(role string) string {
	d := h.Sender
	if role == sample.RoleReceiver {
		d = h.Receiver
	}
	if d == HostLocal {
		return ""
	}
	return d
}

// Remote reports whether any side runs elsewhere.
func (h Hosts) Remote() bool { return h.of(sample.RoleSender) != "" || h.of(sample.RoleReceiver) != "" }

// SharedClock reports whether both sides run on one host, whose monotonic
// clock they then share.
func (h Hosts) SharedClock() bool { return h.of(sample.RoleSender) == h.of(sample.RoleReceiver) }

// Name is the host of a role as results record it.
func (h Hosts) Name(role string) string {
	if d := h.of(role); d != "" {
		return d
	}
	return HostLocal
}

// bindAddress is where the receiver binds its data sockets.
func (h Hosts) bindAddress() string {
	if a := h.DataAddress[sample.RoleReceiver]; a != "" {
		return a
	}
	return "127.0.0.1"
}

// remote is one SSH destination, prepared once per invocation: the remote
// zbench is this very binary (copied there when it was not), and its
// environment stamp is known.
type remote struct {
	dest string
	h    *Hosts
	mu   sync.Mutex
	ok   bool
	path string          // remote zbench, as the remote shell expands it
	env  json.RawMessage // `zbench env --json` on the remote
}

// sshArgs is ssh's command line up to and including the destination.
func (h *Hosts) sshArgs(dest string) []string {
	timeout := h.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	args := []string{"-o", "BatchMode=yes", "-o", fmt.Sprintf("ConnectTimeout=%d", int(timeout.Seconds())),
		"-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"}
	if h.SSHConfig != "" {
		args = append(args, "-F", h.SSHConfig)
	}
	d, port := dest, ""
	if i := strings.LastIndexByte(dest, ':'); i > 0 && !strings.Contains(dest[i+1:], "]") {
		if p := dest[i+1:]; p != "" && strings.Trim(p, "0123456789") == "" {
			d, port = dest[:i], p
		}
	}
	if port != "" {
		args = append(args, "-p", port)
	}
	return append(args, d)
}

// sshRun runs a shell command on dest, with stdin, and returns its output.
func (h *Hosts) sshRun(ctx context.Context, dest, script string, stdin []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ssh", append(h.sshArgs(dest), "--", script)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		} else {
			msg = keyLine(msg) + " (" + err.Error() + ")"
		}
		return out, fmt.Errorf("ssh %s: %s", dest, msg)
	}
	return out, nil
}

// goArch maps `uname -m` to GOARCH.
var goArch = map[string]string{"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386", "armv7l": "arm"}

// prepare makes sure dest runs this binary: it checks the remote's OS and
// architecture, asks the cached copy for its build ID, copies this
// executable there when the ID differs, and reads the remote's environment
// stamp. A success is remembered; a failure is tried again by the next run.
func (r *remote) prepare(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ok {
		return nil
	}
	id, err := host.ExecutableID()
	if err != nil {
		return fmt.Errorf("identify this zbench: %w", err)
	}
	dir := r.h.RemoteDir
	if dir == "" {
		dir = `"${XDG_CACHE_HOME:-$HOME/.cache}/zbench"`
	} else {
		dir = shellQuote(dir)
	}
	r.path = dir + "/" + id + "/zbench"
	out, err := r.h.sshRun(ctx, r.dest, "uname -sm; "+r.path+" version --json 2>/dev/null || true", nil)
	if err != nil {
		return err
	}
	lines := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)
	f := strings.Fields(lines[0])
	if len(f) != 2 || !strings.EqualFold(f[0], runtime.GOOS) || goArch[f[1]] != runtime.GOARCH {
		return fmt.Errorf("%s runs %q, this zbench is %s/%s: it cannot run there", r.dest, lines[0], runtime.GOOS, runtime.GOARCH)
	}
	var v struct {
		BuildID string `json:"build_id"`
	}
	if len(lines) < 2 || json.Unmarshal([]byte(lines[1]), &v) != nil || v.BuildID != id {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		bin, err := os.ReadFile(exe)
		if err != nil {
			return err
		}
		d := dir + "/" + id
		script := fmt.Sprintf("set -e; mkdir -p %s; t=%s/zbench.tmp.$$; cat > \"$t\"; chmod 755 \"$t\"; mv -f \"$t\" %s", d, d, r.path)
		if _, err := r.h.sshRun(ctx, r.dest, script, bin); err != nil {
			return fmt.Errorf("copy zbench to %s: %w", r.dest, err)
		}
	}
	env, err := r.h.sshRun(ctx, r.dest, r.path+" env --json", nil)
	if err != nil {
		return fmt.Errorf("environment of %s: %w", r.dest, err)
	}
	r.env, r.ok = json.RawMessage(bytes.TrimSpace(env)), true
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// remotes holds the prepared destinations of an invocation.
type remotes struct {
	mu sync.Mutex
	m  map[string]*remote
}

func (rs *remotes) get(h *Hosts, dest string) *remote {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = map[string]*remote{}
	}
	r, ok := rs.m[dest]
	if !ok {
		r = &remote{dest: dest, h: h}
		rs.m[dest] = r
	}
	return r
}

// envs returns the environment stamps of the prepared remotes, by
// destination.
func (rs *remotes) envs() map[string]json.RawMessage {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := map[string]json.RawMessage{}
	for d, r := range rs.m {
		if r.ok {
			out[d] = r.env
		}
	}
	return out
}

// remoteUnsupported says why a cell cannot run with its sides placed as h
// says, or "".
func (h Hosts) remoteUnsupported(eng Engine, c matrix.Cell) string {
	if !h.Remote() {
		return ""
	}
	if c.Protocol == "ipc" && !h.SharedClock() {
		return "ipc needs both sides on one host; --hosts puts them on " + h.Name(sample.RoleSender) + " and " + h.Name(sample.RoleReceiver)
	}
	if c.Processes == 1 && !h.SharedClock() {
		return "processes 1 runs both sides in one worker, on one host; --hosts puts them on two"
	}
	sides := []Engine{eng}
	if m, ok := eng.(MixedEngine); ok {
		tx, rx := m.Sides()
		sides = []Engine{tx, rx}
	}
	if slices.ContainsFunc(sides, func(e Engine) bool { _, ext := e.(External); return ext }) {
		return "the side programs of " + eng.Name() + " run on this host only"
	}
	return ""
}
