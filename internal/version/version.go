// Package version holds the manager's build identity: the release version and
// source revision stamped in with -ldflags, and the Go toolchain that built it.
//
// Builds set them as the Makefile and the Dockerfile do:
//
//	go build -ldflags "-X github.com/imageshare/imageshare-operator/internal/version.Version=1.2.3 \
//	  -X github.com/imageshare/imageshare-operator/internal/version.Revision=$(git rev-parse HEAD)"
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version (for example 1.2.3). A build without
// -ldflags reports "dev".
var Version = "dev"

// Revision is the source revision (a git commit) the binary was built from.
// When -ldflags leave it empty, the VCS stamp Go records in the binary is used,
// and "unknown" when there is none (go run, a build outside git).
var Revision = ""

// Info is the build identity of the running binary.
type Info struct {
	// Version is the release version, "dev" for an unstamped build.
	Version string
	// Revision is the source revision, "unknown" when not known.
	Revision string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// Get returns the build identity of the running binary.
func Get() Info {
	return Info{Version: Version, Revision: revision(), GoVersion: runtime.Version()}
}

// String is the one line `manager --version` prints.
func (i Info) String() string {
	return fmt.Sprintf("imageshare-operator %s (revision %s, %s)", i.Version, i.Revision, i.GoVersion)
}

// revision falls back on the vcs.revision setting of the build info, with
// "-dirty" when the tree had uncommitted changes, as git describe does.
func revision() string {
	if Revision != "" {
		return Revision
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev + dirty
}
