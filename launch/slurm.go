// Package launch writes and submits the job definitions that run a sweep on
// a cluster's own engine: a Slurm job array (one array task per shard, each
// `tinyscale run --shard auto` into its own shard database, then a merge
// job) or a Kubernetes Indexed Job with a merge Job. It knows nothing about
// training: it is given the run names of the experiments file in expansion
// order and the paths to use. See docs/scale-out.md.
package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
)

// Sweep is what both launchers need to know about the sweep.
type Sweep struct {
	// Name names the jobs (e.g. the experiments file's base name).
	Name string
	// File is the experiments file.
	File string
	// Runs are the run names in expansion order; run i goes to shard i%Tasks.
	Runs []string
	// Tasks is the number of shards; 0 means one per run.
	Tasks int
}

// tasks is the number of shards.
func (s Sweep) tasks() int {
	if s.Tasks > 0 {
		return min(s.Tasks, len(s.Runs))
	}
	return len(s.Runs)
}

// Assignment returns, for each shard index, the runs it trains (run i to
// shard i%N): the mapping `tinyscale run --shard auto` applies.
func (s Sweep) Assignment() [][]string {
	n := s.tasks()
	out := make([][]string, n)
	for i, r := range s.Runs {
		out[i%n] = append(out[i%n], r)
	}
	return out
}

// Slurm describes a Slurm job array for a sweep.
type Slurm struct {
	Sweep
	// Binary is the tinyscale executable the tasks run (an absolute path on
	// storage every node sees).
	Binary string
	// Dir is the sweep's folder on shared storage: array.sbatch,
	// merge.sbatch, runs.tsv, shards/, logs/, cache/, results.db, report/.
	Dir string
	// Parallel is the most tasks running at once (the %P throttle); 0 for
	// no limit.
	Parallel int
	// Time is each task's time limit (sbatch --time), "" for the
	// partition's default.
	Time string
	// CPUsPerTask is sbatch --cpus-per-task; 0 leaves it out.
	CPUsPerTask int
	// Partition is sbatch --partition, "" for the default partition.
	Partition string
}

// Validate checks the description.
func (s Slurm) Validate() error {
	switch {
	case len(s.Runs) == 0:
		return errors.New("launch slurm: the experiments file has no runs")
	case s.Dir == "" || !filepath.IsAbs(s.Dir):
		return fmt.Errorf("launch slurm: --dir %q must be an absolute path", s.Dir)
	case strings.IndexFunc(s.Dir, unicode.IsControl) >= 0:
		return fmt.Errorf("launch slurm: --dir %q: a line break or control character cannot be written into an #SBATCH line", s.Dir)
	case !filepath.IsAbs(s.Binary) || !filepath.IsAbs(s.File):
		return fmt.Errorf("launch slurm: binary %q and file %q must be absolute paths", s.Binary, s.File)
	case s.Parallel < 0 || s.CPUsPerTask < 0 || s.Tasks < 0:
		return fmt.Errorf("launch slurm: --parallel %d, --cpus-per-task %d and --tasks %d must not be negative", s.Parallel, s.CPUsPerTask, s.Tasks)
	case s.Time != "" && !slurmTime.MatchString(s.Time):
		return fmt.Errorf("launch slurm: --time %q: want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS", s.Time)
	case strings.ContainsAny(s.Partition, " \t\n'\"$`\\"):
		return fmt.Errorf("launch slurm: --partition %q has characters a partition name cannot have", s.Partition)
	}
	return nil
}

var slurmTime = regexp.MustCompile(`^(\d+|\d+:\d\d|\d+:\d\d:\d\d|\d+-\d+|\d+-\d+:\d\d|\d+-\d+:\d\d:\d\d)$`)

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

var arrayTmpl = template.Must(template.New("array").Funcs(template.FuncMap{"q": shQuote, "sq": sbatchQuote}).Parse(`#!/bin/bash
# tinyscale sweep {{.Name}}: {{len .Runs}} runs in {{.NTasks}} array tasks (run i -> task i % {{.NTasks}}; see runs.tsv).
# Written by ` + "`tinyscale launch slurm`" + `; submit with: sbatch {{.Dir}}/array.sbatch
#SBATCH --job-name=tinyscale-{{.Name}}
#SBATCH --array=0-{{.MaxIndex}}{{if .Parallel}}%{{.Parallel}}{{end}}
#SBATCH --requeue
#SBATCH --signal=B:TERM@120
#SBATCH --open-mode=append
#SBATCH --output={{sq (print .Dir "/logs/task-%a.out")}}
{{- if .Time}}
#SBATCH --time={{.Time}}{{end}}
{{- if .CPUsPerTask}}
#SBATCH --cpus-per-task={{.CPUsPerTask}}{{end}}
{{- if .Partition}}
#SBATCH --partition={{.Partition}}{{end}}
#
# --requeue: a preempted or requeued task starts again and resumes its shard
# exactly from its last checkpoint. SIGTERM (preemption, requeue, or 120 s
# before the time limit via --signal; B: because tinyscale replaces this shell
# with exec below and so is the batch step's process) makes tinyscale write a
# checkpoint and release its lease before it exits.
set -euo pipefail
echo "tinyscale task ${SLURM_ARRAY_TASK_ID} of job ${SLURM_ARRAY_JOB_ID} on $(hostname), restart ${SLURM_RESTART_COUNT:-0}"
# The shard count is fixed here, so that any subset of tasks can be
# resubmitted (sbatch --array=3,17 array.sbatch): task id = shard index.
export TINYSCALE_SHARD_COUNT={{.NTasks}}
{{- if .CPUsPerTask}}
export GOMAXPROCS="${SLURM_CPUS_PER_TASK:-{{.CPUsPerTask}}}"{{end}}
exec {{q .Binary}} run -f {{q .File}} --shard auto \
  --db {{q .Dir}}/shards/task-"${SLURM_ARRAY_TASK_ID}".db \
  --cache {{q .Dir}}/cache
`))

var mergeTmpl = template.Must(template.New("merge").Funcs(template.FuncMap{"q": shQuote, "sq": sbatchQuote}).Parse(`#!/bin/bash
# tinyscale sweep {{.Name}}: merge the {{.NTasks}} shard databases into results.db and write the report.
# Written by ` + "`tinyscale launch slurm`" + `; submit after the array with:
#   sbatch --dependency=afterany:ARRAY_JOB_ID {{.Dir}}/merge.sbatch
# It fails (non-zero exit) when a run is not done, after writing what there is.
#SBATCH --job-name=tinyscale-{{.Name}}-merge
#SBATCH --output={{sq (print .Dir "/logs/merge.out")}}
#SBATCH --open-mode=append
{{- if .Partition}}
#SBATCH --partition={{.Partition}}{{end}}
set -uo pipefail
rc=0
shards=()
for f in{{range .Shards}} \
  {{q .}}{{end}}; do
  if [ -e "$f" ]; then shards+=("$f"); else echo "missing shard $f (its task never started): its runs stay pending" >&2; rc=1; fi
done
if [ ${#shards[@]} -gt 0 ]; then
  {{q .Binary}} merge --require-done -o {{q .ResultsDB}} "${shards[@]}" || rc=1
fi
if [ -e {{q .ResultsDB}} ]; then
  {{q .Binary}} status --db {{q .ResultsDB}} || true
  {{q .Binary}} report --db {{q .ResultsDB}} --out {{q .ReportDir}} || rc=1
fi
exit $rc
`))

// slurmView is the data of the templates.
type slurmView struct {
	Slurm
	NTasks, MaxIndex     int
	Shards               []string
	ResultsDB, ReportDir string
}

func (s Slurm) view() slurmView {
	n := s.tasks()
	v := slurmView{Slurm: s, NTasks: n, MaxIndex: n - 1,
		ResultsDB: filepath.Join(s.Dir, "results.db"), ReportDir: filepath.Join(s.Dir, "report")}
	for k := 0; k < n; k++ {
		v.Shards = append(v.Shards, ShardPath(s.Dir, k))
	}
	return v
}

// ShardPath is the database of shard k under dir.
func ShardPath(dir string, k int) string {
	return filepath.Join(dir, "shards", "task-"+strconv.Itoa(k)+".db")
}

// ArrayScript returns the text of array.sbatch.
func (s Slurm) ArrayScript() (string, error) {
	var b bytes.Buffer
	err := arrayTmpl.Execute(&b, s.view())
	return b.String(), err
}

// MergeScript returns the text of merge.sbatch.
func (s Slurm) MergeScript() (string, error) {
	var b bytes.Buffer
	err := mergeTmpl.Execute(&b, s.view())
	return b.String(), err
}

// RunsTable is runs.tsv: one line per run, "index<TAB>run name".
func (s Sweep) RunsTable() string {
	var b strings.Builder
	b.WriteString("task\trun\n")
	n := s.tasks()
	for i, r := range s.Runs {
		fmt.Fprintf(&b, "%d\t%s\n", i%n, r)
	}
	return b.String()
}

// Write creates Dir (with shards/ and logs/) and writes array.sbatch,
// merge.sbatch and runs.tsv.
func (s Slurm) Write() error {
	if err := s.Validate(); err != nil {
		return err
	}
	for _, d := range []string{s.Dir, filepath.Join(s.Dir, "shards"), filepath.Join(s.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("launch slurm: %w", err)
		}
	}
	arr, err := s.ArrayScript()
	if err != nil {
		return err
	}
	mrg, err := s.MergeScript()
	if err != nil {
		return err
	}
	for name, body := range map[string]string{"array.sbatch": arr, "merge.sbatch": mrg, "runs.tsv": s.RunsTable()} {
		if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(body), 0o755); err != nil {
			return fmt.Errorf("launch slurm: %w", err)
		}
	}
	return nil
}

// Jobs are the ids of a submitted sweep.
type Jobs struct{ Array, Merge string }

// Submit submits array.sbatch, then merge.sbatch depending (afterany) on
// the whole array, with the sbatch found in PATH.
func (s Slurm) Submit(ctx context.Context) (Jobs, error) {
	arr, err := sbatch(ctx, filepath.Join(s.Dir, "array.sbatch"))
	if err != nil {
		return Jobs{}, err
	}
	mrg, err := sbatch(ctx, "--dependency=afterany:"+arr, filepath.Join(s.Dir, "merge.sbatch"))
	if err != nil {
		return Jobs{Array: arr}, fmt.Errorf("array job %s submitted, but: %w", arr, err)
	}
	return Jobs{Array: arr, Merge: mrg}, nil
}

// sbatch runs `sbatch --parsable ARGS` and returns the job id.
func sbatch(ctx context.Context, args ...string) (string, error) {
	out, err := command(ctx, "sbatch", append([]string{"--parsable"}, args...)...)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";") // "ID" or "ID;cluster"
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch printed %q, not a job id", out)
	}
	return id, nil
}

// command runs name with args and returns its stdout; a failure carries
// stderr.
func command(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// JobStates returns the state of each job (array tasks are "ID_TASK") that
// `scontrol show job -o ID` lists; a job the controller no longer knows has
// no entry.
func JobStates(ctx context.Context, id string) (map[string]string, error) {
	out, err := command(ctx, "scontrol", "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") { // command's error carries stderr
			return map[string]string{}, nil
		}
		return nil, err
	}
	return parseJobStates(out), nil
}

// parseJobStates reads `scontrol show job -o` output: one job per line of
// Key=Value fields.
func parseJobStates(out string) map[string]string {
	states := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		var id, arrJob, arrTask, state string
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "JobId":
				id = v
			case "ArrayJobId":
				arrJob = v
			case "ArrayTaskId":
				arrTask = v
			case "JobState":
				state = v
			}
		}
		if id == "" {
			continue
		}
		if arrJob != "" && arrTask != "" {
			id = arrJob + "_" + arrTask
		}
		states[id] = state
	}
	return states
}

// terminal reports whether a Slurm job state is final.
func terminal(state string) bool {
	switch state {
	case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE":
		return true
	}
	return false
}

// Wait polls the controller every interval until the merge job has ended,
// then reports an error naming every array task and the merge job that did
// not complete. status, when non-nil, receives state changes.
func Wait(ctx context.Context, jobs Jobs, interval time.Duration, status func(string)) error {
	var arrayStates map[string]string
	last := ""
	for {
		if s, err := JobStates(ctx, jobs.Array); err == nil && len(s) > 0 {
			arrayStates = s
		}
		m, err := JobStates(ctx, jobs.Merge)
		if err != nil {
			return err
		}
		state, known := m[jobs.Merge]
		if !known {
			return fmt.Errorf("merge job %s is no longer known to the controller; look at its log", jobs.Merge)
		}
		if line := summarize(arrayStates) + "; merge " + state; line != last && status != nil {
			status(line)
			last = line
		}
		if terminal(state) {
			var bad []string
			for id, st := range arrayStates {
				if st != "COMPLETED" {
					bad = append(bad, id+" "+st)
				}
			}
			if state != "COMPLETED" {
				bad = append(bad, "merge "+jobs.Merge+" "+state)
			}
			if len(bad) > 0 {
				slices.Sort(bad)
				return fmt.Errorf("sweep did not complete: %s", strings.Join(bad, ", "))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// summarize counts states: "array: 3 COMPLETED, 1 RUNNING".
func summarize(states map[string]string) string {
	n := map[string]int{}
	for _, s := range states {
		n[s]++
	}
	var parts []string
	for s, c := range n {
		parts = append(parts, fmt.Sprintf("%d %s", c, s))
	}
	slices.Sort(parts)
	return "array: " + strings.Join(parts, ", ")
}

// sbatchQuote writes a value of an #SBATCH directive: sbatch splits a
// directive line at white space and takes ' and " as quotes (and \ as an
// escape), so a path holding any of them is written in double quotes with
// " and \ escaped; other values are written as they are.
func sbatchQuote(v string) string {
	if !strings.ContainsAny(v, " \t'\"\\") {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}
