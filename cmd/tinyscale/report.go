package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/tinyscale/tinyscale/report"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
)

// defaultReportDir is where `tinyscale report` writes by default. It is not
// "report/" because the repository has a Go package of that name: a report
// run from the repository root would otherwise land in the source tree.
const defaultReportDir = "results-report"

// reportCmd regenerates every figure and table from the results database.
type reportCmd struct{ e env }

func newReportCmd(e env) command { return reportCmd{e: e} }

// Name implements command.
func (reportCmd) Name() string { return "report" }

// Summary implements command.
func (reportCmd) Summary() string {
	return "write figures, tables and an index.html from the results database"
}

// Run implements command.
func (c reportCmd) Run(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("report", flag.ContinueOnError)
	flags.SetOutput(c.e.stderr)
	dbFlag := flags.String("db", "", "results database `PATH` (default: the db key of -f, else "+defaultDBFile+")")
	file := flags.String("f", defaultExperimentsFile, "experiments `FILE`, read for its db key and the experiments' order")
	out := flags.String("out", defaultReportDir, "output `DIR` (replaced only if it holds a previous report)")
	formats := flags.String("formats", "png,svg,pdf", "figure `FORMATS`, comma-separated: png (always written), svg, pdf")
	dpi := flags.Int("dpi", report.DefaultDPI, "PNG resolution in dots per inch")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: tinyscale report [--db PATH] [-f FILE] [--out DIR] [--formats png,svg,pdf]\n\n%s.\n"+
			"It only reads the database; running it twice gives byte-identical files.\n\nflags:\n", c.Summary())
		flags.PrintDefaults()
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *dpi < 10 || *dpi > 1200 {
		return usagef("--dpi %d: must be between 10 and 1200", *dpi)
	}
	if *out == "" {
		return usagef("--out: empty output folder")
	}
	var fmts []string
	for _, f := range strings.Split(*formats, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fmts = append(fmts, f)
		}
	}
	fileSet := false
	flags.Visit(func(f *flag.Flag) { fileSet = fileSet || f.Name == "f" })

	if err := report.CheckOutDir(*out); err != nil {
		return err
	}
	path, err := resolveDBPath(*dbFlag, *file)
	if err != nil {
		return err
	}
	var order []string
	h, err := sweeps.ReadHeader(*file)
	switch {
	case err == nil:
		order = h.Experiments
	case fileSet || !errors.Is(err, fs.ErrNotExist):
		return err
	} // no experiments file: order by name
	db, err := store.OpenReadOnly(path, store.WithLogger(c.e.log))
	if errors.Is(err, store.ErrNoDatabase) {
		return fmt.Errorf("no results database at %s (run `tinyscale run` first, or pass --db)", path)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	ds, err := report.Load(ctx, db)
	if err != nil {
		return err
	}
	ds.Experiments = order
	rep, err := report.Build(ds, report.Options{Formats: fmts, DPI: *dpi, Logger: c.e.log})
	if err != nil {
		if errors.Is(err, report.ErrUnknownFormat) {
			return usageError{err}
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("report interrupted, nothing written: %w", err)
	}
	if err := rep.WriteDir(*out); err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		c.e.log.Warn(w)
	}
	_, err = fmt.Fprintf(c.e.stdout, "wrote %d runs, %d figures, %d tables to %s\nopen %s\n",
		len(ds.Runs), len(rep.Figures), len(rep.Tables), *out, filepath.Join(*out, "index.html"))
	return err
}
