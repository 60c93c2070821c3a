package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tinyscale/tinyscale/metrics/export"
	"github.com/tinyscale/tinyscale/store"
)

// exportMetricsCmd writes the runs' training histories as CSV or TensorBoard
// event files (package metrics/export).
type exportMetricsCmd struct{ e env }

func newExportMetricsCmd(e env) command { return exportMetricsCmd{e: e} }

// Name implements command.
func (exportMetricsCmd) Name() string { return "export-metrics" }

// Summary implements command.
func (exportMetricsCmd) Summary() string {
	return "write every run's steps and evals as CSV or TensorBoard event files"
}

// Run implements command.
func (c exportMetricsCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export-metrics", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	dbFlag := fs.String("db", "", "results database `PATH` (default: the db key of -f, else "+defaultDBFile+")")
	file := fs.String("f", defaultExperimentsFile, "experiments `FILE`, read only for its db key")
	format := fs.String("format", "", "output `FORMAT`: "+strings.Join(export.Formats(), " or ")+" (required)")
	out := fs.String("out", "", "output `DIR`; must not exist or be empty (required)")
	run := fs.String("run", "", "export only runs whose name (or a /-prefix of it) matches `GLOB`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale export-metrics --format csv|tfevents --out DIR [--run GLOB] [--db PATH]\n\n"+
			"%s: one file per run\n(csv: <run>.csv; tfevents: <run>/events.out.tfevents.*) plus runs.csv, written\n"+
			"atomically into a new folder. Only reads the database. See docs/metrics.md.\n\nflags:\n", c.Summary())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *format == "":
		return usagef("--format is required (%s)", strings.Join(export.Formats(), " or "))
	case *format != export.FormatCSV && *format != export.FormatTFEvents:
		return usagef("--format %q: want %s", *format, strings.Join(export.Formats(), " or "))
	case *out == "":
		return usagef("--out is required")
	}
	path, err := resolveDBPath(*dbFlag, *file)
	if err != nil {
		return err
	}
	db, err := store.OpenReadOnly(path, store.WithLogger(c.e.log))
	if errors.Is(err, store.ErrNoDatabase) {
		return fmt.Errorf("no results database at %s (run `tinyscale run` first, or pass --db)", path)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := export.Export(ctx, db, export.Options{Format: *format, Out: *out, Run: *run})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("export interrupted, nothing written: %w", ctx.Err())
		}
		return err
	}
	fmt.Fprintf(c.e.stdout, "wrote %d runs (%d files, %s) to %s\n", res.Runs, len(res.Files), *format, *out)
	if *format == export.FormatTFEvents {
		fmt.Fprintf(c.e.stdout, "view: tensorboard --logdir %s\n", filepath.Clean(*out))
	}
	return nil
}
