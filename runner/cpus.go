package runner

import (
	"fmt"
	"slices"
	"strings"

	"zbench/host"
	"zbench/runner/sample"
)

// CPUSpec says where a run's workers may run: one CPU set for every worker
// ("0", "0-1"), or one per side ("0:1": the sender's set, then the
// receiver's). The zero value leaves the mask workers inherit in place.
type CPUSpec struct {
	Sender, Receiver host.CPUList
	// PerSide is set when the sides were given sets of their own.
	PerSide bool
}

// ParseCPUSpec reads --cpus: a CPU list for all workers, or SENDER:RECEIVER.
func ParseCPUSpec(s string) (CPUSpec, error) {
	tx, rx, perSide := strings.Cut(s, ":")
	a, err := host.ParseCPUList(tx)
	if err != nil {
		return CPUSpec{}, withSideHint(err, perSide, "sender")
	}
	if !perSide {
		return CPUSpec{Sender: a, Receiver: a}, nil
	}
	b, err := host.ParseCPUList(rx)
	if err != nil {
		return CPUSpec{}, withSideHint(err, true, "receiver")
	}
	return CPUSpec{Sender: a, Receiver: b, PerSide: true}, nil
}

func withSideHint(err error, perSide bool, which string) error {
	if !perSide {
		return fmt.Errorf("%w (or SENDER:RECEIVER, one set per side, e.g. 0:1)", err)
	}
	return fmt.Errorf("%s's set: %w", which, err)
}

// IsZero reports whether the spec pins nothing.
func (c CPUSpec) IsZero() bool { return c.Sender == nil && c.Receiver == nil }

// For returns the CPU set of a worker of the given role; a worker that runs
// both sides gets the union of the sides' sets.
func (c CPUSpec) For(role string) host.CPUList {
	switch role {
	case sample.RoleSender:
		return c.Sender
	case sample.RoleReceiver:
		return c.Receiver
	}
	if c.IsZero() {
		return nil
	}
	all := append(append(host.CPUList{}, c.Sender...), c.Receiver...)
	slices.Sort(all)
	return slices.Compact(all)
}

// String writes the spec as --cpus takes it; "" when it pins nothing.
func (c CPUSpec) String() string {
	switch {
	case c.IsZero():
		return ""
	case c.PerSide:
		return c.Sender.String() + ":" + c.Receiver.String()
	}
	return c.Sender.String()
}

// Check reports whether both sets could be pinned to.
func (c CPUSpec) Check() error {
	for _, l := range []host.CPUList{c.Sender, c.Receiver} {
		if l != nil {
			if err := host.CheckCPUs(l); err != nil {
				return err
			}
		}
	}
	return nil
}
