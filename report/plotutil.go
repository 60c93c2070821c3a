package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure size: readable on a page (about a column and a half wide).
const (
	figWidth  = 16 * vg.Centimeter
	figHeight = 10 * vg.Centimeter
)

// familyColors are the fixed colours of the known families (same order as
// knownFamilies); other families take extraColors in name order.
var familyColors = [...]color.NRGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // gpt2: blue
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // gpt2-rope-swiglu: green
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // silia: red
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // silia-xga: purple
}

var extraColors = [...]color.NRGBA{
	{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff},
	{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// palette assigns each family its colour.
type palette map[string]color.NRGBA

// newPalette gives known families their fixed colour and the others the
// extra colours in name order.
func newPalette(families []string) palette {
	p := palette{}
	var extra []string
	for _, f := range families {
		if r := familyRank(f); r < len(knownFamilies) {
			p[f] = familyColors[r]
		} else {
			extra = append(extra, f)
		}
	}
	sort.Strings(extra)
	for i, f := range extra {
		p[f] = extraColors[i%len(extraColors)]
	}
	return p
}

// color returns the family's colour with the given alpha (0–255).
func (p palette) color(family string, alpha uint8) color.NRGBA {
	c, ok := p[family]
	if !ok {
		c = extraColors[2]
	}
	c.A = alpha
	return c
}

// dashes distinguishes configurations of one family within a figure.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
}

// glyphs distinguishes configurations of one family by marker shape.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{}, draw.RingGlyph{},
}

// newPlot returns a plot with a title, axis labels and the legend top right.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Add(plotter.NewGrid())
	return p
}

// finish makes room above the data for the legend (so that it never hides
// a point), pads log x axes so that edge points are not clipped and gives
// the y axis labels with enough decimals. Call it after adding every plotter.
func finish(p *plot.Plot, entries int) {
	if entries > 0 && p.Y.Max > p.Y.Min {
		f := math.Min(0.6, float64(entries)*11/230+0.02)
		p.Y.Max += (p.Y.Max - p.Y.Min) * f / (1 - f)
	}
	if _, ok := p.X.Scale.(plot.LogScale); ok && p.X.Min > 0 {
		p.X.Min /= 1.2
		p.X.Max *= 1.2
	}
	p.Y.Tick.Marker = decimalTicker{}
}

// decimalTicker is plot.DefaultTicks with every major label printed with the
// same, sufficient number of decimals (DefaultTicks can print 2.55 as 2.5).
type decimalTicker struct{}

// Ticks implements plot.Ticker.
func (decimalTicker) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	dec := 0
	for _, t := range ticks {
		if t.Label == "" {
			continue
		}
		s := strconv.FormatFloat(t.Value, 'g', 10, 64)
		if strings.ContainsAny(s, "eE") {
			dec = 4
		} else if i := strings.IndexByte(s, '.'); i >= 0 {
			dec = max(dec, len(s)-i-1)
		}
	}
	dec = min(dec, 4)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', dec, 64)
		}
	}
	return ticks
}

// spansDecades reports whether the positive values of xs span at least two
// orders of magnitude (then the axis is drawn logarithmic).
func spansDecades(xs []float64) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if x > 0 && !math.IsInf(x, 0) {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	return hi/lo >= 100
}

// setLog makes an axis logarithmic with readable tick labels.
func setLog(a *plot.Axis, label func(float64) string) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = logTicker{label: label}
}

// logTicker puts major ticks at powers of ten and, when the range holds
// fewer than three of them, also at 2× and 5×; minor ticks at the other
// integer multiples.
type logTicker struct{ label func(float64) string }

// Ticks implements plot.Ticker.
func (t logTicker) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= min {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	dense := false
	n := 0
	for e := lo; e <= hi; e++ {
		if v := math.Pow(10, float64(e)); v >= min && v <= max {
			n++
		}
	}
	dense = n < 3
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		base := math.Pow(10, float64(e))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 || (dense && (m == 2 || m == 5)) {
				tk.Label = t.label(v)
			}
			ticks = append(ticks, tk)
		}
	}
	return ticks
}

// siLabel formats a count with a k/M/G/T suffix: 500k, 1.5M, 20G.
func siLabel(v float64) string {
	units := []struct {
		f float64
		s string
	}{{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}}
	// Round to 3 significant digits first, so 999,856 reads "1M", not "1e+03k".
	if r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64); err == nil {
		v = r
	}
	for _, u := range units {
		if math.Abs(v) >= u.f {
			return strconv.FormatFloat(v/u.f, 'g', 3, 64) + u.s
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// expLabel formats a value as 1e15 (for FLOPs).
func expLabel(v float64) string {
	e := math.Floor(math.Log10(v) + 1e-9)
	m := v / math.Pow(10, e)
	if math.Abs(m-math.Round(m)) < 1e-9 && math.Round(m) == 1 {
		return fmt.Sprintf("1e%d", int(e))
	}
	return fmt.Sprintf("%se%d", strconv.FormatFloat(m, 'g', 2, 64), int(e))
}

// secondsLabel formats seconds as 30s, 5min, 2h, 1.5d.
func secondsLabel(v float64) string {
	switch {
	case v >= 86400:
		return strconv.FormatFloat(v/86400, 'g', 3, 64) + "d"
	case v >= 3600:
		return strconv.FormatFloat(v/3600, 'g', 3, 64) + "h"
	case v >= 60:
		return strconv.FormatFloat(v/60, 'g', 3, 64) + "min"
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + "s"
}

// lrLabel formats a learning rate: 3e-3, 1e-4.
func lrLabel(v float64) string { return strconv.FormatFloat(v, 'g', 2, 64) }

// pdfDate matches the creation and modification dates fpdf writes.
var pdfDate = regexp.MustCompile(`/(CreationDate|ModDate) \(D:\d{14}\)`)

// render draws the plot in a format: png (at dpi), svg or pdf. The PDF's
// dates are pinned (same length, so the cross-reference offsets stay valid)
// to keep the output byte-identical from run to run.
func render(p *plot.Plot, format string, dpi int) ([]byte, error) {
	var buf bytes.Buffer
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
		p.Draw(draw.New(c))
		if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("render png: %w", err)
		}
	case "svg":
		c := vgsvg.New(figWidth, figHeight)
		p.Draw(draw.New(c))
		if _, err := c.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("render svg: %w", err)
		}
	case "pdf":
		c := vgpdf.New(figWidth, figHeight)
		p.Draw(draw.New(c))
		if _, err := c.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("render pdf: %w", err)
		}
		return pdfDate.ReplaceAll(buf.Bytes(), []byte("/$1 (D:20000101000000)")), nil
	default:
		return nil, fmt.Errorf("unknown figure format %q (allowed: png, svg, pdf)", format)
	}
	return buf.Bytes(), nil
}

// errPoints are points with asymmetric vertical errors, for YErrorBars.
type errPoints struct {
	XYs     plotter.XYs
	YErrors plotter.YErrors
}

// Len implements plotter.XYer.
func (e errPoints) Len() int { return len(e.XYs) }

// XY implements plotter.XYer.
func (e errPoints) XY(i int) (x, y float64) { return e.XYs[i].X, e.XYs[i].Y }

// YError implements plotter.YErrorer.
func (e errPoints) YError(i int) (lo, hi float64) { return e.YErrors[i].Low, e.YErrors[i].High }

// distinctCount returns how many different values xs holds.
func distinctCount(xs []float64) int {
	m := map[float64]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return len(m)
}
