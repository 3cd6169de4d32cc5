package host

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
)

// ErrUnknown is returned by a probe that could not find its value out.
var ErrUnknown = errors.New("host: not found out")

// Kernel returns the kernel's name and release, e.g. "Linux 6.1.0-18-amd64".
func Kernel() (string, error) {
	release, err := host.KernelVersion()
	if err != nil {
		return "", err
	}
	if release == "" {
		return "", ErrUnknown
	}
	name := runtime.GOOS
	if name == "darwin" {
		name = "Darwin"
	} else {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return name + " " + release, nil
}

// CPUModel returns the model name of the machine's CPUs.
func CPUModel() (string, error) {
	infos, err := cpu.Info()
	if err != nil {
		return "", err
	}
	for _, in := range infos {
		if in.ModelName != "" {
			return in.ModelName, nil
		}
	}
	return "", ErrUnknown
}

// LogicalCores returns the number of logical CPUs of the machine (not only
// those this process may use: see Affinity).
func LogicalCores() (int, error) { return cpu.Counts(true) }

// MemTotal returns the machine's physical memory in bytes.
func MemTotal() (uint64, error) {
	vm, err := mem.VirtualMemory()
	if err != nil {
		return 0, err
	}
	return vm.Total, nil
}

// SysCPURoot is where Linux describes the CPUs.
const SysCPURoot = "/sys/devices/system/cpu"

// Governor returns the cpufreq scaling governors of the CPUs in cpus (of
// every CPU under root when cpus is empty), distinct values sorted and
// joined by ",", or "none" where there is no cpufreq. readFile is how files
// are read (os.ReadFile; tests give their own).
func Governor(root string, cpus CPUList, readFile func(string) ([]byte, error)) string {
	if readFile == nil {
		readFile = os.ReadFile
	}
	var paths []string
	if len(cpus) > 0 {
		for _, c := range cpus {
			paths = append(paths, filepath.Join(root, "cpu"+strconv.Itoa(c), "cpufreq", "scaling_governor"))
		}
	} else {
		paths, _ = filepath.Glob(filepath.Join(root, "cpu[0-9]*", "cpufreq", "scaling_governor"))
	}
	var govs []string
	for _, path := range paths {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		if g := strings.TrimSpace(string(b)); g != "" && !slices.Contains(govs, g) {
			govs = append(govs, g)
		}
	}
	if len(govs) == 0 {
		return "none"
	}
	slices.Sort(govs)
	return strings.Join(govs, ",")
}
