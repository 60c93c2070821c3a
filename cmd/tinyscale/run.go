package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"gorgonia.org/gorgonia"

	"github.com/tinyscale/tinyscale/blas"
	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/runner"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// runCommand trains the runs of an experiments file (package runner).
type runCommand struct{ e env }

func newRunCmd(e env) command { return runCommand{e: e} }

// Name implements command.
func (runCommand) Name() string { return "run" }

// Summary implements command.
func (runCommand) Summary() string {
	return "train the pending runs of an experiments file (resumes interrupted runs)"
}

// Run implements command.
func (c runCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	file := fs.String("f", defaultExperimentsFile, "experiments `FILE`")
	dbFlag := fs.String("db", "", "results database `PATH` (default: the file's db key, else "+defaultDBFile+")")
	only := fs.String("only", "", "train only runs whose name (or a /-prefix of it) matches `GLOB`, e.g. 'paper-pair/*'")
	shardFlag := fs.String("shard", "", "train only shard `K/N` of the runs (run i goes to shard i%N+1), for parallel processes; "+
		"'auto' takes it from a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) and opens --db as this shard's own database")
	shardCount := fs.Int("shard-count", 0, "number of shards `N` for --shard auto in a Kubernetes Indexed Job (default $TINYSCALE_SHARD_COUNT)")
	fresh := fs.Bool("fresh", false, "discard the selected runs' results and checkpoints and start them from scratch")
	cache := fs.String("cache", "", "data cache `DIR` (default $XDG_CACHE_HOME/tinyscale or .tinyscale-cache)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale run [-f FILE] [--db PATH] [--only GLOB] [--shard K/N|auto [--shard-count N]] [--fresh]\n\n"+
			"Registers every run of FILE in the results database, then trains the selected runs that are not\n"+
			"done, in order. Interrupted runs resume from their newest checkpoint, exactly. Several processes\n"+
			"may share one database on one host (--shard K/N, leases): a run is never trained twice. Across hosts\n"+
			"(Slurm arrays, Kubernetes Indexed Jobs) give each task its own database with --shard auto and\n"+
			"combine them with `tinyscale merge`; see docs/scale-out.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	auto := *shardFlag == "auto"
	if *shardCount != 0 && !auto {
		return usagef("--shard-count goes with --shard auto")
	}
	if *shardCount < 0 {
		return usagef("--shard-count %d: want a positive number of shards", *shardCount)
	}
	if auto && *dbFlag == "" {
		return usagef("--shard auto needs --db, this task's own database (e.g. shards/task-$SLURM_ARRAY_TASK_ID.db); tasks must not share one")
	}
	var shard runner.Shard
	var err error
	if auto {
		shard, err = runner.ShardFromEnv(os.Getenv, *shardCount)
	} else {
		shard, err = runner.ParseShard(*shardFlag)
	}
	if err != nil {
		return usageError{err}
	}
	cacheDir := *cache
	if cacheDir == "" {
		cacheDir = data.DefaultCacheDir()
	}
	f, err := sweeps.Load(*file)
	if err != nil {
		return err
	}
	runs, err := f.Expand(func(d data.Spec, t tokenizer.Spec) (int, error) {
		p, err := data.Prepare(ctx, d, t, cacheDir)
		if err != nil {
			return 0, err
		}
		return p.Tokenizer.VocabSize(), nil
	})
	if err != nil && ctx.Err() != nil {
		msg, _ := interruptMessage(ctx.Err()) // not the file:line of the dataset being prepared
		return errors.New(msg)
	}
	if err != nil {
		return err
	}
	selected, err := runner.Select(runs, *only, shard)
	if err != nil {
		return usageError{err}
	}
	if *only != "" && len(selected) == 0 {
		return fmt.Errorf("--only %q matches no run of %s (%d runs; `tinyscale plan` lists them)", *only, *file, len(runs))
	}
	if *fresh && *only == "" {
		c.e.log.Warn("--fresh without --only: every selected run starts from scratch")
	}
	path, err := resolveDBPath(*dbFlag, *file)
	if err != nil {
		return err
	}
	openOpts := []store.Option{store.WithLogger(c.e.log), store.WithContext(ctx)}
	if auto {
		openOpts = append(openOpts, store.WithSingleWriter())
	}
	db, err := store.Open(path, openOpts...)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted while opening the results database %s (nothing was changed): %w", path, ctx.Err())
	}
	if err != nil {
		return err
	}
	defer db.Close()
	opened, _ := os.Stat(path)
	if auto {
		if err := recordShard(ctx, db, f.SHA256, runs, shard); err != nil {
			return err
		}
		c.e.log.Info("shard", "index", shard.K-1, "count", shard.N, "runs", len(selected), "db", path)
	}

	impl, info := blas.Load()
	gorgonia.Use(impl)
	c.e.log.Info("training", "runs", len(runs), "selected", len(selected), "db", path, "blas", info.String(), "cpu_kernels", cpuKernelsForLog(), "gomaxprocs", runtime.GOMAXPROCS(0))
	if info.Fallback != "" {
		c.e.log.Warn("OpenBLAS not loaded; using pure-Go BLAS", "reason", info.Fallback)
	}

	host, _ := os.Hostname()
	opts := runner.Options{
		DB: db, Runs: runs, Selected: selected, Fresh: *fresh, Log: c.e.log, BLAS: impl,
		Env:      store.RunEnv{Host: host, GoVersion: runtime.Version(), TinyscaleVersion: buildVersion(), BLAS: info.String()},
		Progress: c.e.stdout, Terminal: stdoutIsTerminal(c.e.stdout), WaitForLease: auto,
	}
	opts.Wire(cacheDir)
	sum, err := runner.Run(ctx, opts)
	if gone := dbGone(path, opened); gone != nil {
		// SQLite kept writing to the deleted file: whatever the runner
		// says was saved is not in any database a rerun would open.
		return gone
	}
	if msg, ok := interruptMessage(err); ok {
		return errors.New(msg)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.e.stdout, "%d done, %d failed, %d skipped (done earlier, failed earlier, or claimed by another process)\n",
		sum.Done, sum.Failed, sum.Skipped)
	if sum.Failed > 0 {
		return fmt.Errorf("%d run(s) failed; `tinyscale status` shows why", sum.Failed)
	}
	return nil
}

// dbGone reports, as an error, that the results database at path was
// deleted or replaced while run had it open (opened: its file then).
func dbGone(path string, opened os.FileInfo) error {
	if opened == nil {
		return nil
	}
	now, err := os.Stat(path)
	if err == nil && os.SameFile(opened, now) {
		return nil
	}
	what := "deleted"
	if err == nil {
		what = "replaced by another file"
	}
	return fmt.Errorf("the results database %s was %s while run was training: the steps and checkpoint records of this session are lost (checkpoint files under %s.ckpt are not used without them); rerun `tinyscale run` to train again", path, what, path)
}

// interruptMessage is what run says when it was stopped by Ctrl-C or
// SIGTERM: whether the stopped run's checkpoint was written, and how to go
// on. ok is false when err is not an interruption.
func interruptMessage(err error) (string, bool) {
	if !errors.Is(err, context.Canceled) {
		return "", false
	}
	var ie *runner.InterruptedError
	switch {
	case !errors.As(err, &ie):
		return "interrupted outside a training step (preparing data, resuming or between runs): no step was left unsaved; rerun `tinyscale run` to go on", true
	case ie.Checkpointed && ie.Step == 0:
		return fmt.Sprintf("interrupted; run %s stopped in its first step (nothing to save yet): rerun `tinyscale run` to start it", ie.Run), true
	case ie.Checkpointed:
		return fmt.Sprintf("interrupted; run %s checkpointed at step %d: rerun `tinyscale run` to resume", ie.Run, ie.Step), true
	default:
		return fmt.Sprintf("interrupted; run %s stopped at step %d but its checkpoint could NOT be written (%v): rerun `tinyscale run` to resume from step %d",
			ie.Run, ie.Step, ie.Err, ie.LastCkpt), true
	}
}

// recordShard records in a shard database which experiments file (fileSHA,
// the hash sweeps.Load took of the bytes it expanded) and shard it belongs
// to, refusing a database made for a different plan or shard.
func recordShard(ctx context.Context, db *store.DB, fileSHA string, runs []sweeps.Run, shard runner.Shard) error {
	want := map[string]string{
		store.MetaPlanSHA256:        runner.PlanHash(runs),
		store.MetaShardIndex:        strconv.Itoa(shard.K - 1),
		store.MetaShardCount:        strconv.Itoa(shard.N),
		store.MetaExperimentsSHA256: fileSHA,
	}
	for _, k := range []string{store.MetaPlanSHA256, store.MetaShardIndex, store.MetaShardCount} {
		got, ok, err := db.Meta(ctx, k)
		if err != nil {
			return err
		}
		if ok && got != want[k] {
			return fmt.Errorf("%s is a shard database of another sweep or shard (%s %s, this task has %s): give each sweep its own directory",
				db.Path(), k, got, want[k])
		}
	}
	for _, k := range []string{store.MetaPlanSHA256, store.MetaShardIndex, store.MetaShardCount, store.MetaExperimentsSHA256} {
		if err := db.SetMeta(ctx, k, want[k]); err != nil {
			return err
		}
	}
	return nil
}

// stdoutIsTerminal reports whether w is a character device (an interactive terminal).
func stdoutIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// buildVersion identifies the running build: the module version or VCS
// revision (with -dirty) when the binary carries them, else "(devel)",
// followed by " exe:" and the first 16 hex digits of the executable's
// sha256. The hash makes every build distinct, also under `go run` (which
// records no VCS information), so a run resumed under changed code is
// marked non-reproducible (store.SetRunEnv).
func buildVersion() string {
	v := moduleVersion()
	if exe, err := os.Executable(); err == nil {
		if h := exeHash(exe); h != "" {
			v += " exe:" + h
		}
	}
	return v
}

// exeHash is the first 16 hex digits of the sha256 of the file at path, or
// "" if it cannot be read.
func exeHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// moduleVersion is the module version or VCS revision the binary was built from.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		v = rev[:min(12, len(rev))] + dirty
	}
	if v == "" {
		v = "(devel)"
	}
	return strings.TrimSpace(v)
}
