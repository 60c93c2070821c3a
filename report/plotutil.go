package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure sizes for a paper: a double-column figure (index.html shows it,
// files <name>.<format>) and a single-column one (<name>-1col.<format>).
// Heights are those of the plot; a legend below the plot adds its own height.
const (
	doubleWidth  = 17.5 * vg.Centimeter
	doubleHeight = 8.5 * vg.Centimeter
	singleWidth  = 8.5 * vg.Centimeter
	singleHeight = 6.5 * vg.Centimeter
)

// figSize is one size every figure is rendered at.
type figSize struct {
	suffix        string // file-name suffix
	width, height vg.Length
	legendBelow   bool // always put the legend under the plot
}

// figSizes are the sizes of every figure, double column first.
var figSizes = []figSize{
	{suffix: "", width: doubleWidth, height: doubleHeight},
	{suffix: "-1col", width: singleWidth, height: singleHeight, legendBelow: true},
}

// Okabe–Ito colours (Okabe & Ito 2008, "Color Universal Design"), which stay
// distinct under the common colour-vision deficiencies. familyColors are the
// known families' (same order as knownFamilies): each family has its colour
// in every figure; other families take extraColors in name order.
var familyColors = [...]color.NRGBA{
	{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}, // gpt2: bluish green
	{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}, // gpt2-rope-swiglu: blue
	{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff}, // silia: vermillion
	{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff}, // silia-xga: reddish purple
}

var extraColors = [...]color.NRGBA{
	{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff}, // orange
	{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff}, // sky blue
	{R: 0x00, G: 0x00, B: 0x00, A: 0xff}, // black
	{R: 0xf0, G: 0xe4, B: 0x42, A: 0xff}, // yellow
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

// newPlot returns a plot with a title, axis labels (with units) and 7–9 pt
// text, sized for a paper.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(9)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(8)
		a.Tick.Label.Font.Size = vg.Points(7)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Legend.Top, p.Legend.Left = true, true
	p.X.Tick.Marker = niceTicker{}
	p.Add(plotter.NewGrid())
	return p
}

// finish pads the axes so that edge points are not clipped and gives the y
// axis readable labels. Call it after adding every plotter.
func finish(p *plot.Plot) {
	if _, ok := p.X.Scale.(plot.LogScale); ok && p.X.Min > 0 {
		p.X.Min /= 1.2
		p.X.Max *= 1.2
	}
	if p.Y.Max > p.Y.Min {
		pad := (p.Y.Max - p.Y.Min) * 0.04
		p.Y.Min, p.Y.Max = p.Y.Min-pad, p.Y.Max+pad
	}
	p.Y.Tick.Marker = niceTicker{}
}

// takeLegend moves the plot's legend entries out of the plot, so that
// drawFigure can place them outside the data area.
func takeLegend(p *plot.Plot) plot.Legend {
	leg := p.Legend
	p.Legend = plot.NewLegend()
	p.Legend.TextStyle = leg.TextStyle
	return leg
}

// legendPad separates the legend from the plot.
const legendPad = 2 * vg.Millimeter

// legendSize is the width and height of a legend (zero when it is empty).
func legendSize(leg plot.Legend) (w, h vg.Length) {
	r := leg.Rectangle(draw.Canvas{})
	return r.Max.X - r.Min.X, r.Max.Y - r.Min.Y
}

// figureHeight is the canvas height of a figure at size sz: the plot's,
// plus the legend's when the legend goes below the plot.
func figureHeight(leg plot.Legend, sz figSize) vg.Length {
	if below, _, h := legendPlace(leg, sz); below {
		return sz.height + h + 2*legendPad
	}
	return sz.height
}

// legendPlace decides where the legend goes: to the right of the plot when
// it takes at most 40% of the width (and the size allows it), else below.
func legendPlace(leg plot.Legend, sz figSize) (below bool, w, h vg.Length) {
	w, h = legendSize(leg)
	if h == 0 {
		return false, 0, 0
	}
	return sz.legendBelow || w > 0.4*sz.width || h > sz.height, w, h
}

// drawFigure draws the plot and, outside its data area, the legend.
func drawFigure(p *plot.Plot, leg plot.Legend, c draw.Canvas, sz figSize) {
	below, w, h := legendPlace(leg, sz)
	switch {
	case h == 0:
		p.Draw(c)
	case below:
		// The legend's last line needs its font descent below it: a pad.
		p.Draw(draw.Crop(c, 0, 0, h+2*legendPad, 0))
		leg.Draw(draw.Crop(c, legendPad, 0, legendPad, -(c.Max.Y - c.Min.Y - h - 2*legendPad)))
	default:
		p.Draw(draw.Crop(c, 0, -(w + legendPad), 0, 0))
		leg.Draw(draw.Crop(c, c.Max.X-c.Min.X-w, 0, 0, -4*legendPad))
	}
}

// niceTicker puts labelled ticks at multiples of 1, 2 or 5 × 10^k, so that
// an axis has at most 7 labels, all printed with the same number of
// decimals (plot.DefaultTicks can label 0 to 300 as 40, 160, 280), and
// unlabelled minor ticks halfway.
type niceTicker struct {
	// label formats a labelled value; nil prints it with the step's decimals.
	label func(float64) string
}

// Ticks implements plot.Ticker.
func (t niceTicker) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) || math.IsNaN(hi-lo) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step := 0.0
	for e := math.Floor(math.Log10(hi-lo)) - 2; step == 0; e++ {
		for _, m := range []float64{1, 2, 5} {
			st := m * math.Pow(10, e)
			if n := math.Floor(hi/st) - math.Ceil(lo/st) + 1; n <= 7 {
				step = st
				break
			}
		}
	}
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	var ticks []plot.Tick
	first := math.Ceil(lo / step)
	if m := (first - 0.5) * step; m >= lo {
		ticks = append(ticks, plot.Tick{Value: m})
	}
	for k := first; k*step <= hi*(1+1e-12)+1e-300; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		lbl := strconv.FormatFloat(v, 'f', dec, 64)
		if t.label != nil && v != 0 {
			lbl = t.label(v)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: lbl})
		if m := v + step/2; m <= hi {
			ticks = append(ticks, plot.Tick{Value: m})
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

// logTicker labels a log axis readably: powers of ten when the range holds
// at least three of them; else 1, 2 and 5 × 10^k when that gives three
// labels; else (less than a decade) every integer multiple 1–9 × 10^k.
// Unlabelled minor ticks mark the other integer multiples.
type logTicker struct{ label func(float64) string }

// Ticks implements plot.Ticker.
func (t logTicker) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= min {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	in := func(v float64) bool { return v >= min*(1-1e-9) && v <= max*(1+1e-9) }
	count := func(ms ...int) int {
		n := 0
		for e := lo; e <= hi; e++ {
			for _, m := range ms {
				if in(float64(m) * math.Pow(10, float64(e))) {
					n++
				}
			}
		}
		return n
	}
	labelled := map[int]bool{1: true}
	switch {
	case count(1) >= 3:
	case count(1, 2, 5) >= 3:
		labelled[2], labelled[5] = true, true
	default:
		for m := 2; m <= 9; m++ {
			labelled[m] = true
		}
	}
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		base := math.Pow(10, float64(e))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if !in(v) {
				continue
			}
			tk := plot.Tick{Value: v}
			if labelled[m] {
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

// render draws a figure in a format (png at dpi, svg or pdf) at a size. The
// PDF's dates are pinned (same length, so the cross-reference offsets stay
// valid) to keep the output byte-identical from run to run.
func render(p *plot.Plot, leg plot.Legend, format string, dpi int, sz figSize) ([]byte, error) {
	var buf bytes.Buffer
	w, h := sz.width, figureHeight(leg, sz)
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
		drawFigure(p, leg, draw.New(c), sz)
		if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("render png: %w", err)
		}
	case "svg":
		c := vgsvg.New(w, h)
		drawFigure(p, leg, draw.New(c), sz)
		if _, err := c.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("render svg: %w", err)
		}
	case "pdf":
		c := vgpdf.New(w, h)
		drawFigure(p, leg, draw.New(c), sz)
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
