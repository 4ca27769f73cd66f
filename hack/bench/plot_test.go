package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syntheticResult is a run that converges at the bound's pace.
func syntheticResult() result {
	r := result{label: "N=100 T=4", n: 100, tenants: 4, images: 52, totalShares: 500, coldTime: 6 * time.Second,
		cloudBound: 5 * time.Second}
	for i := range 31 {
		at := time.Duration(i) * 200 * time.Millisecond
		r.samples = append(r.samples, sample{at: at, shared: min(500, i*17), calls: map[string]int{
			actList: i * 2, actModify: i * 2, actDescribe: i / 10}})
	}
	return r
}

func TestWritePlot(t *testing.T) {
	r := syntheticResult()
	path := plotFile(t.TempDir(), r)
	if filepath.Base(path) != "n100-t4.svg" {
		t.Fatalf("plot file %s", path)
	}
	if err := writePlot(path, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "calls per second by action", actModify, "bound (5.0 s, cloud)"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
}

func TestCallRatesSurviveAReset(t *testing.T) {
	s := []sample{{at: 0, calls: map[string]int{actList: 0}}, {at: time.Second, calls: map[string]int{actList: 10}},
		{at: 2 * time.Second, calls: map[string]int{actList: 4}}}
	got := callRates(s, actList)
	if len(got) != 2 || got[0].Y != 10 || got[1].Y != 4 {
		t.Fatalf("callRates = %v", got)
	}
}
