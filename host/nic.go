package host

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// NIC is one network interface as the environment stamp records it.
type NIC struct {
	Name string `json:"name"`
	// SpeedMbps is the link speed /sys/class/net/NAME/speed reports; 0
	// when the interface has none (loopback, veth, most virtual ones).
	SpeedMbps int      `json:"speed_mbps,omitempty"`
	MTU       int      `json:"mtu"`
	Addrs     []string `json:"addrs,omitempty"`
	Up        bool     `json:"up"`
}

// NICs lists the machine's network interfaces with their speed, MTU and
// addresses. sysNet is where Linux describes them ("" means
// /sys/class/net).
func NICs(sysNet string) ([]NIC, error) {
	if sysNet == "" {
		sysNet = "/sys/class/net"
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []NIC
	for _, ifc := range ifs {
		n := NIC{Name: ifc.Name, MTU: ifc.MTU, Up: ifc.Flags&net.FlagUp != 0}
		if b, err := os.ReadFile(filepath.Join(sysNet, ifc.Name, "speed")); err == nil {
			if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 {
				n.SpeedMbps = v
			}
		}
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				n.Addrs = append(n.Addrs, a.String())
			}
		}
		out = append(out, n)
	}
	return out, nil
}
