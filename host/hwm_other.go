//go:build !linux

package host

// PeakRSS returns this process's peak resident set: ru_maxrss where there
// is no /proc.
func PeakRSS() (int64, error) {
	u, err := SelfUsage()
	return u.PeakRSSBytes, err
}
