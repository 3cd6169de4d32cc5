//go:build !libzmq

package engines

// Without the libzmq build tag the binary has no libzmq adapter; cells of
// that engine are recorded as unsupported, never as failures.
func init() {
	register(unavailable{name: "libzmq", reason: "not built with libzmq"})
}
