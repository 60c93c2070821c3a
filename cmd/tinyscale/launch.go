package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/internal/atomicfile"
	"github.com/tinyscale/tinyscale/launch"
	"github.com/tinyscale/tinyscale/sweeps"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// launchCommand writes (and submits) the jobs that run a sweep on a
// cluster's engine (package launch).
type launchCommand struct{ e env }

func newLaunchCmd(e env) command { return launchCommand{e: e} }

// Name implements command.
func (launchCommand) Name() string { return "launch" }

// Summary implements command.
func (launchCommand) Summary() string {
	return "run a sweep on Slurm (job array) or Kubernetes (Indexed Job): one shard per task, one merge"
}

const launchUsage = `usage:
  tinyscale launch slurm [-f FILE] --dir DIR [--parallel P] [--time T] [--cpus-per-task C]
                         [--partition NAME] [--tasks N] [--submit [--wait]]
  tinyscale launch kubernetes [-f FILE] --image IMAGE --claim PVC [--parallel P] [--cpus C] [--tasks N]

slurm writes DIR/array.sbatch (one array task per run unless --tasks, each
'tinyscale run --shard auto' into DIR/shards/task-K.db), DIR/merge.sbatch (merge and
report into DIR/results.db and DIR/report, after the whole array) and DIR/runs.tsv
(which task trains which run). --submit submits both and prints the job ids; --wait
then blocks until the merge job ends and fails if a task or the merge did not complete.

kubernetes prints a ConfigMap (the experiments file), an Indexed Job and a merge Job
as one JSON List for 'kubectl apply -f -'. See docs/scale-out.md.
`

// Run implements command.
func (c launchCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprint(c.e.stderr, launchUsage)
		if len(args) == 0 {
			return usagef("launch: name an engine: slurm or kubernetes")
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "slurm":
		return c.slurm(ctx, args[1:])
	case "kubernetes", "k8s":
		return c.kubernetes(ctx, args[1:])
	}
	return usagef("launch: unknown engine %q (want slurm or kubernetes)", args[0])
}

// sweepOf expands the experiments file into the launcher's view of it.
func sweepOf(ctx context.Context, file, cacheDir string, tasks int) (launch.Sweep, error) {
	f, err := sweeps.Load(file)
	if err != nil {
		return launch.Sweep{}, err
	}
	runs, err := f.Expand(func(d data.Spec, t tokenizer.Spec) (int, error) {
		p, err := data.Prepare(ctx, d, t, cacheDir)
		if err != nil {
			return 0, err
		}
		return p.Tokenizer.VocabSize(), nil
	})
	if err != nil {
		return launch.Sweep{}, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return launch.Sweep{}, err
	}
	s := launch.Sweep{Name: strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), File: abs, Tasks: tasks}
	for _, r := range runs {
		s.Runs = append(s.Runs, r.Name)
	}
	return s, nil
}

func (c launchCommand) slurm(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("launch slurm", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	file := fs.String("f", defaultExperimentsFile, "experiments `FILE`")
	dir := fs.String("dir", "", "sweep `DIR` on storage every node mounts (required)")
	parallel := fs.Int("parallel", 0, "at most `P` array tasks at once (the %P throttle; 0: no limit)")
	timeLimit := fs.String("time", "", "time limit of each task, sbatch --time `T` (e.g. 2-00:00:00)")
	cpus := fs.Int("cpus-per-task", 0, "sbatch --cpus-per-task `C` (also GOMAXPROCS of each task)")
	partition := fs.String("partition", "", "sbatch --partition `NAME`")
	tasks := fs.Int("tasks", 0, "number of array tasks `N` (default: one per run; run i goes to task i%N)")
	binary := fs.String("binary", "", "tinyscale `PATH` the tasks run (default: this executable)")
	submit := fs.Bool("submit", false, "submit the array and the merge job with sbatch and print their ids")
	wait := fs.Bool("wait", false, "with --submit: wait for the merge job; fail if a task or the merge did not complete")
	fs.Usage = func() { fmt.Fprint(fs.Output(), launchUsage+"\nflags:\n"); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("launch slurm: --dir DIR is required")
	}
	if *wait && !*submit {
		return usagef("launch slurm: --wait goes with --submit")
	}
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	bin := *binary
	if bin == "" {
		// Tasks run a copy of this executable kept in DIR: under `go run` the
		// executable is a temporary file deleted when go run exits, and a
		// rebuild while the array runs would mix builds between tasks.
		if bin, err = copyExecutable(filepath.Join(absDir, "bin", "tinyscale")); err != nil {
			return fmt.Errorf("launch slurm: %w (or pass --binary)", err)
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	sw, err := sweepOf(ctx, *file, filepath.Join(absDir, "cache"), *tasks)
	if err != nil {
		return err
	}
	s := launch.Slurm{Sweep: sw, Binary: bin, Dir: absDir, Parallel: *parallel, Time: *timeLimit,
		CPUsPerTask: *cpus, Partition: *partition}
	if err := s.Validate(); err != nil {
		return usageError{err}
	}
	if err := s.Write(); err != nil {
		return err
	}
	n := len(s.Assignment())
	fmt.Fprintf(c.e.stdout, "wrote %s/array.sbatch (%d runs in %d tasks), merge.sbatch and runs.tsv\n", absDir, len(sw.Runs), n)
	if !*submit {
		fmt.Fprintf(c.e.stdout, "submit with: tinyscale launch slurm -f %s --dir %s --submit\n", *file, *dir)
		return nil
	}
	jobs, err := s.Submit(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.e.stdout, "array job %s\nmerge job %s\n", jobs.Array, jobs.Merge)
	if !*wait {
		return nil
	}
	err = launch.Wait(ctx, jobs, 2*time.Second, func(s string) { c.e.log.Info("slurm", "state", s) })
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopped waiting; the jobs go on (squeue -j %s,%s)", jobs.Array, jobs.Merge)
	}
	if err != nil {
		return fmt.Errorf("%w; logs in %s/logs", err, absDir)
	}
	fmt.Fprintf(c.e.stdout, "done: %s/results.db, report in %s/report\n", absDir, absDir)
	return nil
}

func (c launchCommand) kubernetes(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("launch kubernetes", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	file := fs.String("f", defaultExperimentsFile, "experiments `FILE`")
	image := fs.String("image", "", "container `IMAGE` with tinyscale on its PATH (required)")
	claim := fs.String("claim", "", "PersistentVolumeClaim `PVC` mounted at "+launch.MountPath+" in every pod (required)")
	parallel := fs.Int("parallel", 0, "Job parallelism `P` (0: all indices at once)")
	cpus := fs.Int("cpus", 0, "CPU request and limit `C` of each training pod")
	tasks := fs.Int("tasks", 0, "completions `N` (default: one per run; run i goes to index i%N)")
	cache := fs.String("cache", "", "local data cache `DIR`, to count the runs (default $XDG_CACHE_HOME/tinyscale)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), launchUsage+"\nflags:\n"); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cacheDir := *cache
	if cacheDir == "" {
		cacheDir = data.DefaultCacheDir()
	}
	sw, err := sweepOf(ctx, *file, cacheDir, *tasks)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	k := launch.Kubernetes{Sweep: sw, Image: *image, Claim: *claim, Parallel: *parallel, CPUs: *cpus}
	if err := k.Validate(); err != nil {
		return usageError{err}
	}
	b, err := k.Manifests(text)
	if err != nil {
		return err
	}
	_, err = c.e.stdout.Write(b)
	return err
}

// copyExecutable copies the running executable to dst (mode 0755, written
// atomically) and returns dst.
func copyExecutable(dst string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this executable: %w", err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		return "", fmt.Errorf("read this executable: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("copy this executable: %w", err)
	}
	if err := atomicfile.WriteFile(dst, b, 0o755); err != nil {
		return "", fmt.Errorf("copy this executable to %s: %w", dst, err)
	}
	return dst, nil
}
