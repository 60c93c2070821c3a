package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/tinyscale/tinyscale/store"
)

// mergeCommand combines shard databases into one (store.Merge).
type mergeCommand struct{ e env }

func newMergeCmd(e env) command { return mergeCommand{e: e} }

// Name implements command.
func (mergeCommand) Name() string { return "merge" }

// Summary implements command.
func (mergeCommand) Summary() string {
	return "combine shard databases (run --shard auto) into one results database, exactly"
}

// Run implements command.
func (c mergeCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	out := fs.String("o", "", "output results database `OUT.db` (required; an existing one is merged in too)")
	requireDone := fs.Bool("require-done", false, "after writing OUT.db, fail if any run is not done")
	requireFinished := fs.Bool("require-finished", false, "after writing OUT.db, fail if any run is still pending or running (done and failed are finished)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale merge [--require-done|--require-finished] -o OUT.db IN.db...\n\n"+
			"Combines results databases (the shards of `tinyscale run --shard auto`) into OUT.db in one\n"+
			"transaction. Each run's rows come from exactly one input: done > failed > partial with the most\n"+
			"steps > pending. Refused: a run whose configuration differs between inputs, a run done twice\n"+
			"with different curves, shards of different experiments files, other schema versions. Inputs\n"+
			"are opened read-only; an existing OUT.db is one more input, so merging again changes nothing.\n"+
			"Checkpoint files stay where they are: their paths are rewritten relative to OUT.db after\n"+
			"their sha256 is verified.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if *out == "" {
		return usagef("-o OUT.db is required")
	}
	inputs := fs.Args()
	if len(inputs) == 0 {
		return usagef("no input databases (e.g. tinyscale merge -o results.db shards/*.db)")
	}
	for _, in := range inputs {
		if strings.HasPrefix(in, "-") {
			return usagef("flag %s after the input databases: put flags first", in)
		}
	}
	sum, err := store.Merge(ctx, *out, inputs, c.e.log)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("merge interrupted; %s is as it was (the merge is one transaction): rerun it: %w", *out, ctx.Err())
		}
		return err
	}
	statuses := make([]string, 0, len(sum.Runs))
	total := 0
	for s, n := range sum.Runs {
		statuses = append(statuses, fmt.Sprintf("%d %s", n, s))
		total += n
	}
	sort.Strings(statuses)
	fmt.Fprintf(c.e.stdout, "merged %d databases into %s: %d runs (%s), %d checkpoints verified",
		len(sum.Inputs), *out, total, strings.Join(statuses, ", "), sum.Checkpoints)
	if len(sum.DroppedCheckpoints) > 0 {
		fmt.Fprintf(c.e.stdout, ", %d not carried (missing or corrupt):\n  %s", len(sum.DroppedCheckpoints), strings.Join(sum.DroppedCheckpoints, "\n  "))
	}
	fmt.Fprintln(c.e.stdout)
	if *requireDone || *requireFinished {
		var open []string
		for _, name := range slices.Sorted(maps.Keys(sum.Status)) {
			st := sum.Status[name]
			if st != store.StatusDone && (*requireDone || st != store.StatusFailed) {
				open = append(open, name+" ("+st+")")
			}
		}
		if len(open) > 0 {
			want := "done"
			if !*requireDone {
				want = "finished"
			}
			return fmt.Errorf("%d of %d runs are not %s: %s", len(open), total, want, strings.Join(open, ", "))
		}
	}
	return nil
}
