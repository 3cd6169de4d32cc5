package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"zbench/host"
	"zbench/report"
)

// versionOptions holds what `zbench version` needs.
type versionOptions struct {
	JSON    bool
	version string                    // report.Version
	commit  func() report.CommitStamp // report.DetectCommit; replaced in tests
	stdout  io.Writer
}

// VersionInfo is what `zbench version --json` prints: enough to tell
// whether another host runs the very same binary (BuildID, the SHA-256 of
// the executable) and whether it could (OS, Arch).
type VersionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Dirty   bool   `json:"dirty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	BuildID string `json:"build_id"`
}

func newVersionCmd() *cobra.Command { return newVersionCmdWith(runVersion) }

// newVersionCmdWith builds the command around runF, for tests.
func newVersionCmdWith(runF func(*versionOptions) error) *cobra.Command {
	opts := &versionOptions{version: report.Version, commit: report.DetectCommit}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print zbench's version, commit and Go version",
		Long: `version prints the zbench version (set at build time with
-ldflags "-X zbench/report.Version=..."; "dev" otherwise), the commit it was
built from with "(dirty)" when the tree had uncommitted changes, and the Go
version. The commit is the binary's own: the Go toolchain's VCS stamp, or
-ldflags "-X zbench/report.Commit=<hash>" (make build and make install set
it). A binary that carries neither reads it from git in the current
directory, if that is a zbench source tree, and says so; otherwise it is
"unknown".`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.stdout = cmd.OutOrStdout()
			return runF(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print version, commit, Go, OS/arch and the build ID (SHA-256 of the executable) as JSON")
	return cmd
}

// runVersion prints three lines: version, commit, Go.
func runVersion(opts *versionOptions) error {
	c := opts.commit()
	if opts.JSON {
		id, _ := host.ExecutableID()
		err := json.NewEncoder(opts.stdout).Encode(VersionInfo{Version: opts.version, Commit: c.Commit, Dirty: c.Dirty,
			Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, BuildID: id})
		if err != nil {
			return failed(fmt.Errorf("version: %w", err))
		}
		return nil
	}
	commit := c.Commit
	if c.Dirty {
		commit += " (dirty)"
	}
	if c.Note != "" {
		commit += "\n        (" + c.Note + ")"
	}
	_, err := fmt.Fprintf(opts.stdout, "zbench %s\ncommit: %s\ngo: %s %s/%s\n",
		opts.version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return failed(fmt.Errorf("version: %w", err))
	}
	return nil
}
