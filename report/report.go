package report

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ErrNoRuns is returned by Build for a dataset without runs: the report
// refuses to write an empty folder.
var ErrNoRuns = errors.New("no runs in the results database")

// ErrUnknownFormat is matched by the error Build returns for a figure
// format it cannot write.
var ErrUnknownFormat = errors.New("unknown figure format")

// Formats lists the figure formats Build can write.
func Formats() []string { return []string{"png", "svg", "pdf"} }

// DefaultDPI is the PNG resolution (16 cm × 10 cm figures: 945 × 591 px).
const DefaultDPI = 150

// Options configures Build.
type Options struct {
	// Formats are the figure formats besides PNG, which is always written
	// (index.html shows the PNGs): any of "svg", "pdf".
	Formats []string
	// DPI is the PNG resolution; 0 means DefaultDPI.
	DPI int
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Report is a built report: every output file by its slash-separated path
// relative to the output folder, plus what it contains.
type Report struct {
	// Files maps relative paths (index.html, figures/…, tables/…) to contents.
	Files map[string][]byte
	// Figures, Tables and Headlines are the report's parts, in page order.
	Figures   []Figure
	Tables    []Table
	Headlines []string
	// Warnings are problems found in the data (shown in index.html).
	Warnings []string
}

// generatorMeta marks an index.html written by this package, so that WriteDir
// only ever replaces a folder that holds a previous report.
const generatorMeta = `<meta name="generator" content="tinyscale report">`

// Build computes every figure, table and the index page from ds.
func Build(ds Dataset, opts Options) (*Report, error) {
	if len(ds.Runs) == 0 {
		return nil, ErrNoRuns
	}
	formats, err := normaliseFormats(opts.Formats)
	if err != nil {
		return nil, err
	}
	dpi := opts.DPI
	if dpi == 0 {
		dpi = DefaultDPI
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := analyse(ds)
	if err != nil {
		return nil, err
	}
	var fams []string
	seen := map[string]bool{}
	for _, r := range a.runs {
		if !seen[r.Family] {
			seen[r.Family] = true
			fams = append(fams, r.Family)
		}
	}
	pal := newPalette(fams)

	rep := &Report{Files: map[string][]byte{}, Warnings: a.warnings}
	pairs, err := a.pairTable()
	if err != nil {
		return nil, err
	}
	rep.Tables = []Table{a.paramTable(), pairs, a.claimsTable(), a.runsTable()}

	lossFigs, err := a.lossFigures(pal)
	if err != nil {
		return nil, err
	}
	paramFigs, heads, err := a.paramFigures(pal)
	if err != nil {
		return nil, err
	}
	compFigs, err := a.computeFigures(pal)
	if err != nil {
		return nil, err
	}
	lrFigs, err := a.lrFigures(pal)
	if err != nil {
		return nil, err
	}
	rep.Headlines = heads
	rep.Figures = append(append(append(paramFigs, lossFigs...), compFigs...), lrFigs...)
	rep.Figures = uniqueNames(rep.Figures)

	for _, t := range rep.Tables {
		rep.Files["tables/"+t.Name+".md"] = t.Markdown()
		c, err := t.CSV()
		if err != nil {
			return nil, err
		}
		rep.Files["tables/"+t.Name+".csv"] = c
	}
	rep.Files["tables/headline.md"] = headlineMarkdown(heads)
	js, err := a.reportJSON(heads, a.warnings)
	if err != nil {
		return nil, err
	}
	rep.Files["report.json"] = js
	for _, f := range rep.Figures {
		for _, sz := range figSizes {
			for _, format := range formats {
				b, err := render(f.plot, f.legend, format, dpi, sz)
				if err != nil {
					return nil, fmt.Errorf("figure %s: %w", f.Name, err)
				}
				rep.Files["figures/"+f.Name+sz.suffix+"."+format] = b
			}
		}
		log.Debug("figure drawn", "name", f.Name)
	}
	page, err := a.indexHTML(rep, formats)
	if err != nil {
		return nil, err
	}
	rep.Files["index.html"] = page
	log.Info("report built", "runs", len(a.runs), "figures", len(rep.Figures), "files", len(rep.Files))
	return rep, nil
}

// normaliseFormats checks the requested formats and returns png followed by
// the others in Formats() order, without duplicates.
func normaliseFormats(req []string) ([]string, error) {
	want := map[string]bool{"png": true}
	for _, f := range req {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		ok := false
		for _, k := range Formats() {
			ok = ok || f == k
		}
		if !ok {
			return nil, fmt.Errorf("%w %q (allowed: %s)", ErrUnknownFormat, f, strings.Join(Formats(), ", "))
		}
		want[f] = true
	}
	var out []string
	for _, k := range Formats() {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// uniqueNames appends -2, -3… to figure names that two experiments' slugs
// made equal.
func uniqueNames(figs []Figure) []Figure {
	seen := map[string]int{}
	for i := range figs {
		n := figs[i].Name
		seen[n]++
		if c := seen[n]; c > 1 {
			figs[i].Name = fmt.Sprintf("%s-%d", n, c)
		}
	}
	return figs
}

// headlineMarkdown lists the headline statements.
func headlineMarkdown(heads []string) []byte {
	var b bytes.Buffer
	b.WriteString("# Headline: parameter exchange rate\n\n")
	if len(heads) == 0 {
		b.WriteString("No experiment has finished runs of both a Silia family and a GPT-2 family.\n")
	}
	for _, h := range heads {
		b.WriteString("- " + h + "\n")
	}
	return b.Bytes()
}
