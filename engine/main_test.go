package engine

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks, after every test of the package has run, that no
// goroutine outlived the sockets that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
