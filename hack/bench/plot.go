package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// plotFile is where r's plot goes in dir: "N=100 T=4" becomes n100-t4.svg.
func plotFile(dir string, r result) string {
	name := strings.NewReplacer("=", "", " ", "-").Replace(strings.ToLower(r.label))
	if r.hot != nil {
		name = "hot"
	}
	return filepath.Join(dir, name+".svg")
}

// writePlot writes r's SVG (PNG if path ends in .png): the shares in the cloud over time against the
// bound's straight line, and calls per second by action below it.
func writePlot(path string, r result) error {
	conv := plot.New()
	conv.Title.Text = fmt.Sprintf("%s: shared (image, account) pairs", r.label)
	conv.X.Label.Text = "seconds since the manager started"
	conv.Y.Label.Text = "shares"
	conv.Legend.Top, conv.Legend.Left = true, true
	shared := make(plotter.XYs, 0, len(r.samples))
	for _, s := range r.samples {
		shared = append(shared, plotter.XY{X: s.at.Seconds(), Y: float64(s.shared)})
	}
	b := r.bound().Seconds()
	end := max(b, r.coldTime.Seconds())
	if n := len(r.samples); n > 0 {
		end = max(end, r.samples[n-1].at.Seconds())
	}
	ideal := plotter.XYs{{X: 0, Y: 0}, {X: b, Y: float64(r.totalShares)}, {X: end, Y: float64(r.totalShares)}}
	if err := addLines(conv, "measured", shared, fmt.Sprintf("bound (%.1f s, %s)", b, r.binds()), ideal); err != nil {
		return err
	}
	conv.Y.Max *= 1.15

	rates := plot.New()
	rates.Title.Text = "calls per second by action (1 s windows)"
	rates.X.Label.Text = "seconds since the manager started"
	rates.Y.Label.Text = "calls/s"
	rates.Legend.Top, rates.Legend.Left = true, true
	var series []any
	for _, action := range []string{actList, actModify, actDescribe} {
		series = append(series, action, callRates(r.samples, action))
	}
	if err := addLines(rates, series...); err != nil {
		return err
	}
	rates.X.Min, rates.Y.Min = 0, 0
	rates.Y.Max *= 1.4 // room for the legend

	var img vg.CanvasWriterTo = vgsvg.New(18*vg.Centimeter, 20*vg.Centimeter)
	if strings.HasSuffix(path, ".png") {
		img = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(18*vg.Centimeter, 20*vg.Centimeter),
			vgimg.UseDPI(96))}
	}
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 6}
	grid := [][]*plot.Plot{{conv}, {rates}}
	canvases := plot.Align(grid, tiles, draw.New(img))
	conv.Draw(canvases[0][0])
	rates.Draw(canvases[1][0])
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plot directory: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := img.WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// addLines adds name, XYs pairs as coloured lines with a legend.
func addLines(p *plot.Plot, pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		l, err := plotter.NewLine(pairs[i+1].(plotter.XYs))
		if err != nil {
			return fmt.Errorf("plot %s: %w", pairs[i], err)
		}
		l.Color = plotutil.Color(i / 2)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i / 2)
		p.Add(l)
		p.Legend.Add(pairs[i].(string), l)
	}
	return nil
}

// callRates turns the samples' running counts of action into calls per
// second over windows of at least a second.
func callRates(samples []sample, action string) plotter.XYs {
	out := plotter.XYs{}
	if len(samples) == 0 {
		return append(out, plotter.XY{})
	}
	from := samples[0]
	for _, s := range samples[1:] {
		dt := (s.at - from.at).Seconds()
		if dt < 1 {
			continue
		}
		calls := s.calls[action] - from.calls[action]
		if calls < 0 { // the counters were reset in between
			calls = s.calls[action]
		}
		out = append(out, plotter.XY{X: (s.at.Seconds() + from.at.Seconds()) / 2, Y: float64(calls) / dt})
		from = s
	}
	if len(out) == 0 {
		out = append(out, plotter.XY{})
	}
	return out
}
