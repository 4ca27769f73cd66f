package version

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGetUsesStampedValues(t *testing.T) {
	oldVersion, oldRevision := Version, Revision
	t.Cleanup(func() { Version, Revision = oldVersion, oldRevision })
	Version, Revision = "1.2.3", "abc123"

	info := Get()
	if info.Version != "1.2.3" || info.Revision != "abc123" || info.GoVersion != runtime.Version() {
		t.Errorf("Get() = %+v, want version 1.2.3, revision abc123, go %s", info, runtime.Version())
	}
	want := "imageshare-operator 1.2.3 (revision abc123, " + runtime.Version() + ")"
	if got := info.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestRevisionFallback(t *testing.T) {
	oldRevision := Revision
	t.Cleanup(func() { Revision = oldRevision })
	Revision = ""
	// A test binary carries no VCS stamp, so this is "unknown"; a go build in a
	// git tree would report the commit instead. Either way it is never empty.
	if got := Get().Revision; got == "" {
		t.Error("Revision fell back to an empty string")
	}
}

func TestRegisterExportsBuildInfo(t *testing.T) {
	oldVersion, oldRevision := Version, Revision
	t.Cleanup(func() { Version, Revision = oldVersion, oldRevision })
	Version, Revision = "1.2.3", "abc123"

	reg := prometheus.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP imageshare_build_info Build information of the manager: release version, source revision and Go version; always 1.
# TYPE imageshare_build_info gauge
imageshare_build_info{goversion="` + runtime.Version() + `",revision="abc123",version="1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), MetricName); err != nil {
		t.Error(err)
	}
	if err := Register(reg); err == nil {
		t.Error("registering twice succeeded; want an AlreadyRegistered error")
	}
}
