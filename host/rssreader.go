package host

import (
	"os"
	"sync"
)

// RSSReader reads this process's resident set again and again without
// allocating: /proc/self/statm stays open and is read into one buffer.
// Where there is no /proc, Read returns ErrUnknown.
type RSSReader struct {
	mu  sync.Mutex
	f   *os.File
	buf [128]byte
}

// NewRSSReader opens /proc/self/statm for repeated reads.
func NewRSSReader() *RSSReader {
	r := &RSSReader{}
	r.f, _ = os.Open("/proc/self/statm")
	return r
}

// Read returns the resident set now, in bytes.
func (r *RSSReader) Read() (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, ErrUnknown
	}
	n, err := r.f.ReadAt(r.buf[:], 0)
	if n == 0 && err != nil {
		return 0, err
	}
	// "size resident shared ...": the second field, in pages.
	b := r.buf[:n]
	i := 0
	for i < len(b) && b[i] != ' ' {
		i++
	}
	var pages int64
	for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		pages = pages*10 + int64(b[i]-'0')
	}
	if pages == 0 {
		return 0, ErrUnknown
	}
	return pages * int64(os.Getpagesize()), nil
}

// Close releases the file.
func (r *RSSReader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
