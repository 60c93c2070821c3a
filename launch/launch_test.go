package launch

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testSweep(n int) Sweep {
	s := Sweep{Name: "paper", File: "/abs/experiments.yaml"}
	for i := 0; i < n; i++ {
		s.Runs = append(s.Runs, "exp/run="+string(rune('a'+i)))
	}
	return s
}

func TestSlurmScripts(t *testing.T) {
	dir := t.TempDir()
	s := Slurm{Sweep: testSweep(5), Binary: "/opt/bin/tinyscale", Dir: dir, Parallel: 2, Time: "1-00:00:00", CPUsPerTask: 4, Partition: "cpu"}
	if err := s.Write(); err != nil {
		t.Fatal(err)
	}
	arr, _ := os.ReadFile(filepath.Join(dir, "array.sbatch"))
	mrg, _ := os.ReadFile(filepath.Join(dir, "merge.sbatch"))
	for _, want := range []string{
		"#SBATCH --array=0-4%2\n", "#SBATCH --requeue\n", "#SBATCH --signal=B:TERM@120\n", "#SBATCH --time=1-00:00:00\n",
		"#SBATCH --cpus-per-task=4\n", "#SBATCH --partition=cpu\n", "#SBATCH --open-mode=append\n",
		"export TINYSCALE_SHARD_COUNT=5\n",
		"exec '/opt/bin/tinyscale' run -f '/abs/experiments.yaml' --shard auto",
		"--db '" + dir + "'/shards/task-\"${SLURM_ARRAY_TASK_ID}\".db",
	} {
		if !strings.Contains(string(arr), want) {
			t.Errorf("array.sbatch lacks %q:\n%s", want, arr)
		}
	}
	for _, want := range []string{
		"merge --require-done -o '" + dir + "/results.db' \"${shards[@]}\"",
		"'" + dir + "/shards/task-0.db'", "'" + dir + "/shards/task-4.db'",
		"report --db '" + dir + "/results.db' --out '" + dir + "/report'",
		"#SBATCH --partition=cpu\n",
	} {
		if !strings.Contains(string(mrg), want) {
			t.Errorf("merge.sbatch lacks %q:\n%s", want, mrg)
		}
	}
	for _, f := range []string{"array.sbatch", "merge.sbatch"} {
		if out, err := exec.Command("bash", "-n", filepath.Join(dir, f)).CombinedOutput(); err != nil {
			t.Errorf("%s is not valid bash: %v %s", f, err, out)
		}
	}
	tsv, _ := os.ReadFile(filepath.Join(dir, "runs.tsv"))
	if !strings.HasPrefix(string(tsv), "task\trun\n0\texp/run=a\n1\texp/run=b\n") {
		t.Errorf("runs.tsv:\n%s", tsv)
	}
	// Fewer tasks than runs: round robin, as --shard auto deals them.
	s.Tasks = 2
	if got := s.Assignment(); len(got) != 2 || strings.Join(got[0], ",") != "exp/run=a,exp/run=c,exp/run=e" {
		t.Errorf("assignment %v", got)
	}
	if a, _ := s.ArrayScript(); !strings.Contains(a, "--array=0-1%2\n") {
		t.Errorf("two tasks:\n%s", a)
	}
	s.Parallel, s.Time, s.CPUsPerTask, s.Partition = 0, "", 0, ""
	a, _ := s.ArrayScript()
	if strings.Contains(a, "%") && strings.Contains(a, "--array=0-1%") || strings.Contains(a, "--time") || strings.Contains(a, "--partition") {
		t.Errorf("unset options appear:\n%s", a)
	}
}

func TestSlurmValidate(t *testing.T) {
	ok := Slurm{Sweep: testSweep(2), Binary: "/b", Dir: "/d"}
	tests := []struct {
		name string
		mod  func(*Slurm)
		err  string
	}{
		{"relative dir", func(s *Slurm) { s.Dir = "rel" }, "absolute"},
		{"no runs", func(s *Slurm) { s.Runs = nil }, "no runs"},
		{"bad time", func(s *Slurm) { s.Time = "2 hours" }, "--time"},
		{"negative parallel", func(s *Slurm) { s.Parallel = -1 }, "--parallel"},
		{"bad partition", func(s *Slurm) { s.Partition = "a b" }, "--partition"},
		{"newline in dir", func(s *Slurm) { s.Dir = "/d\n#SBATCH --x" }, "a line break or control character cannot be written into an #SBATCH line"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		s := ok
		tc.mod(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestKubernetesValidate: flag values that would make manifests kubectl
// rejects (or a pod that cannot pull its image) are refused, naming them.
func TestKubernetesValidate(t *testing.T) {
	ok := Kubernetes{Sweep: testSweep(2), Image: "registry.example/tinyscale:1", Claim: "sweeps.lab-1"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mod  func(*Kubernetes)
		err  string
	}{
		{"image with a space", func(k *Kubernetes) { k.Image = "x y" }, `launch kubernetes: --image "x y": an image reference has no spaces or control characters (e.g. registry.lab/tinyscale:v1)`},
		{"claim upper case", func(k *Kubernetes) { k.Claim = "Bad_Name" }, `launch kubernetes: --claim "Bad_Name" is not a valid PersistentVolumeClaim name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`},
		{"claim ends in -", func(k *Kubernetes) { k.Claim = "sweeps-" }, `--claim "sweeps-" is not a valid`},
		{"claim too long", func(k *Kubernetes) { k.Claim = strings.Repeat("a", 254) }, `is not a valid PersistentVolumeClaim name`},
	}
	for _, tc := range tests {
		k := ok
		tc.mod(&k)
		if err := k.Validate(); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestSlurmDirWithSpacesAndQuotes: a --dir holding a space or a quote is
// written into the #SBATCH --output lines in double quotes (sbatch splits a
// directive at white space and reads ' and " as quotes: the logs went to
// "/tmp/a"), and into the shell lines with shell quoting; plain paths are
// written as before.
func TestSlurmDirWithSpacesAndQuotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), `a b'c"d`)
	s := Slurm{Sweep: testSweep(2), Binary: "/b", Dir: dir}
	if err := s.Write(); err != nil {
		t.Fatal(err)
	}
	quoted := `"` + strings.ReplaceAll(dir, `"`, `\"`)
	for name, want := range map[string]string{
		"array.sbatch": "#SBATCH --output=" + quoted + `/logs/task-%a.out"` + "\n",
		"merge.sbatch": "#SBATCH --output=" + quoted + `/logs/merge.out"` + "\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s has no line %q:\n%s", name, want, b)
		}
		if out, err := exec.Command("bash", "-n", filepath.Join(dir, name)).CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v: %s", name, err, out)
		}
	}
	if got := sbatchQuote("/plain/path/logs/merge.out"); got != "/plain/path/logs/merge.out" {
		t.Errorf("plain path quoted: %s", got)
	}
}

// fakeSlurm puts sbatch and scontrol stand-ins first on PATH: sbatch
// prints ids 101, 102, ... and logs its arguments; scontrol prints
// dir/states-ID.
func fakeSlurm(t *testing.T) string {
	dir := t.TempDir()
	sb := `#!/bin/sh
n=$(cat "` + dir + `/n" 2>/dev/null || echo 100); n=$((n+1)); echo $n > "` + dir + `/n"
echo "$@" >> "` + dir + `/sbatch.log"; echo "$n"
`
	sc := `#!/bin/sh
f="` + dir + `/states-$4"; if [ -e "$f" ]; then cat "$f"; else echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi
`
	os.WriteFile(filepath.Join(dir, "sbatch"), []byte(sb), 0o755)
	os.WriteFile(filepath.Join(dir, "scontrol"), []byte(sc), 0o755)
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return dir
}

func TestSubmitAndWait(t *testing.T) {
	fake := fakeSlurm(t)
	dir := t.TempDir()
	s := Slurm{Sweep: testSweep(2), Binary: "/b", Dir: dir}
	if err := s.Write(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	jobs, err := s.Submit(ctx)
	if err != nil || jobs != (Jobs{"101", "102"}) {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
	log, _ := os.ReadFile(filepath.Join(fake, "sbatch.log"))
	if !strings.Contains(string(log), "--parsable --dependency=afterany:101 "+dir+"/merge.sbatch") {
		t.Errorf("sbatch calls:\n%s", log)
	}
	task := func(id, state string) string {
		return "JobId=1" + id + " ArrayJobId=101 ArrayTaskId=" + id + " JobState=" + state + " Reason=None\n"
	}
	write := func(job, body string) { // atomically: the fake scontrol may read it meanwhile
		tmp := filepath.Join(fake, ".tmp-"+job)
		os.WriteFile(tmp, []byte(body), 0o644)
		os.Rename(tmp, filepath.Join(fake, "states-"+job))
	}
	tests := []struct {
		name, array, merge, err string
	}{
		{"all completed", task("0", "COMPLETED") + task("1", "COMPLETED"), "COMPLETED", ""},
		{"a task failed", task("0", "COMPLETED") + task("1", "FAILED"), "COMPLETED", "101_1 FAILED"},
		{"merge failed", task("0", "COMPLETED") + task("1", "COMPLETED"), "FAILED", "merge 102 FAILED"},
	}
	for _, tc := range tests {
		write("101", tc.array)
		write("102", "JobId=102 JobName=m JobState="+tc.merge+" Reason=None\n")
		err := Wait(ctx, jobs, time.Millisecond, nil)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
		}
	}
	// A merge job still pending, then done: Wait polls.
	write("102", "JobId=102 JobState=PENDING Reason=Dependency\n")
	write("101", task("0", "COMPLETED")+task("1", "COMPLETED"))
	go func() {
		time.Sleep(50 * time.Millisecond)
		write("102", "JobId=102 JobState=COMPLETED Reason=None\n")
	}()
	var seen []string
	if err := Wait(ctx, jobs, 5*time.Millisecond, func(s string) { seen = append(seen, s) }); err != nil {
		t.Fatal(err)
	}
	if len(seen) < 2 || !strings.Contains(seen[0], "merge PENDING") {
		t.Errorf("status lines %q", seen)
	}
}

func TestKubernetesManifests(t *testing.T) {
	k := Kubernetes{Sweep: testSweep(7), Image: "registry.example/tinyscale:1", Claim: "sweeps", Parallel: 3, CPUs: 2}
	b, err := k.Manifests([]byte("experiments: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Name, Image string
		Command     []string
		Args        []string
		Env         []struct {
			Name, Value string
			ValueFrom   *struct {
				FieldRef struct{ FieldPath string }
			}
		}
		VolumeMounts []struct{ Name, MountPath string }
	}
	type podSpec struct {
		RestartPolicy                 string
		TerminationGracePeriodSeconds int
		Containers, InitContainers    []container
		Volumes                       []struct {
			Name                  string
			PersistentVolumeClaim *struct{ ClaimName string }
			ConfigMap             *struct{ Name string }
		}
	}
	var list struct {
		APIVersion, Kind string
		Items            []struct {
			APIVersion, Kind string
			Metadata         struct{ Name string }
			Data             map[string]string
			Spec             struct {
				CompletionMode       string
				Completions          *int
				Parallelism          *int
				BackoffLimitPerIndex *int
				BackoffLimit         *int
				PodReplacementPolicy string
				Template             struct{ Spec podSpec }
			}
		}
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if list.Kind != "List" || len(list.Items) != 3 {
		t.Fatalf("want a List of 3 items, got %s with %d", list.Kind, len(list.Items))
	}
	cm, job, merge := list.Items[0], list.Items[1], list.Items[2]
	if cm.Kind != "ConfigMap" || cm.Data["experiments.yaml"] != "experiments: []\n" {
		t.Errorf("config map %+v", cm)
	}
	js := job.Spec
	if job.Kind != "Job" || job.APIVersion != "batch/v1" || js.CompletionMode != "Indexed" || *js.Completions != 7 ||
		*js.Parallelism != 3 || js.PodReplacementPolicy != "Failed" || js.BackoffLimitPerIndex == nil || *js.BackoffLimitPerIndex != 3 {
		t.Errorf("indexed job spec %+v", js)
	}
	ps := js.Template.Spec
	if ps.RestartPolicy != "Never" || ps.TerminationGracePeriodSeconds < 120 || len(ps.Containers) != 1 {
		t.Fatalf("pod spec %+v", ps)
	}
	c := ps.Containers[0]
	args := strings.Join(c.Args, " ")
	if c.Image != k.Image || !strings.Contains(args, "run -f /etc/tinyscale/experiments.yaml --shard auto --db /results/shards/task-$(JOB_COMPLETION_INDEX).db") {
		t.Errorf("train container %+v", c)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["TINYSCALE_SHARD_COUNT"] != "7" || !strings.Contains(env["JOB_COMPLETION_INDEX"], "job-completion-index") || env["GOMAXPROCS"] != "2" {
		t.Errorf("env %v", env)
	}
	claim := ""
	for _, v := range ps.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "sweeps" {
		t.Errorf("claim %q", claim)
	}
	mps := merge.Spec.Template.Spec
	if merge.Kind != "Job" || merge.Metadata.Name != job.Metadata.Name+"-merge" || len(mps.InitContainers) != 1 || len(mps.Containers) != 1 {
		t.Fatalf("merge job %+v", merge)
	}
	margs := strings.Join(mps.InitContainers[0].Args, " ")
	if !strings.HasPrefix(margs, "merge --require-finished -o /results/results.db /results/shards/task-0.db") || !strings.HasSuffix(margs, "/results/shards/task-6.db") {
		t.Errorf("merge args %q", margs)
	}
	if r := strings.Join(mps.Containers[0].Args, " "); r != "report --db /results/results.db --out /results/report" {
		t.Errorf("report args %q", r)
	}
	for _, bad := range []Kubernetes{{Sweep: testSweep(1), Claim: "c"}, {Sweep: testSweep(1), Image: "i"}, {Image: "i", Claim: "c"}} {
		if _, err := bad.Manifests(nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestJobName(t *testing.T) {
	for in, want := range map[string]string{"Paper_v2": "tinyscale-paper-v2", "": "tinyscale-sweep", "...": "tinyscale-sweep",
		strings.Repeat("x", 80): "tinyscale-" + strings.Repeat("x", 40)} {
		if got := jobName(in); got != want {
			t.Errorf("jobName(%q) = %q, want %q", in, got, want)
		}
	}
}
