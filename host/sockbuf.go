package host

import (
	"os"
	"strconv"
	"strings"
)

// SocketBufferBytes estimates how many bytes the kernel's socket buffers of
// one connection can hold in flight, sender and receiver together: for tcp
// (and ws, which runs over it) the maxima of net.ipv4.tcp_wmem and tcp_rmem;
// for ipc (Unix stream sockets, charged to the sender) net.core.wmem_max.
// 0 when unknown.
func SocketBufferBytes(protocol string) int64 {
	switch protocol {
	case "tcp", "ws":
		return lastField("/proc/sys/net/ipv4/tcp_wmem") + lastField("/proc/sys/net/ipv4/tcp_rmem")
	case "ipc":
		return lastField("/proc/sys/net/core/wmem_max")
	}
	return 0
}

// lastField reads the last number of a /proc/sys file, 0 if it cannot.
func lastField(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		return 0
	}
	return n
}
