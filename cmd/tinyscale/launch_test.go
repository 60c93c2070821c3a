package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLaunchCommands: the launch subcommands wire their flags to package
// launch (whose tests check the scripts and manifests in detail).
func TestLaunchCommands(t *testing.T) {
	cache := t.TempDir()
	dir, _ := runTestDir(t, 10, cache)
	file := filepath.Join(dir, "experiments.yaml")
	sweep := filepath.Join(dir, "sweep")
	out, errs, code := runTinyscale("launch", "slurm", "-f", file, "--dir", sweep, "--parallel", "1", "--binary", "/opt/tinyscale")
	if code != 0 || !strings.Contains(out, "(2 runs in 2 tasks)") {
		t.Fatalf("launch slurm: exit %d\n%s\n%s", code, out, errs)
	}
	arr, _ := os.ReadFile(filepath.Join(sweep, "array.sbatch"))
	if !strings.Contains(string(arr), "#SBATCH --array=0-1%1\n") || !strings.Contains(string(arr), "exec '/opt/tinyscale' run -f '"+file+"'") {
		t.Errorf("array.sbatch:\n%s", arr)
	}
	tsv, _ := os.ReadFile(filepath.Join(sweep, "runs.tsv"))
	if string(tsv) != "task\trun\n0\tpair/gpt2\n1\tpair/silia\n" {
		t.Errorf("runs.tsv:\n%s", tsv)
	}

	out, errs, code = runTinyscale("launch", "kubernetes", "-f", file, "--image", "img:1", "--claim", "pvc", "--cache", cache)
	if code != 0 {
		t.Fatalf("launch kubernetes: exit %d\n%s", code, errs)
	}
	var list struct {
		Items []struct {
			Kind string
			Spec struct{ Completions int }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 3 || list.Items[1].Spec.Completions != 2 {
		t.Errorf("manifests (%v): %+v", err, list)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"launch"}, "name an engine"},
		{[]string{"launch", "pbs"}, `unknown engine "pbs"`},
		{[]string{"launch", "slurm", "-f", file}, "--dir DIR is required"},
		{[]string{"launch", "slurm", "-f", file, "--dir", sweep, "--wait"}, "--wait goes with --submit"},
		{[]string{"launch", "slurm", "-f", file, "--dir", sweep, "--time", "soon"}, "--time"},
		{[]string{"launch", "kubernetes", "-f", file, "--claim", "pvc", "--cache", cache}, "--image is required"},
	} {
		if _, errs, code := runTinyscale(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

// TestLaunchSlurmCopiesExecutable: without --binary the tasks run a copy of
// this executable kept in DIR/bin (under `go run` the executable is a
// temporary file that is gone once go run exits).
func TestLaunchSlurmCopiesExecutable(t *testing.T) {
	cache := t.TempDir()
	dir, _ := runTestDir(t, 10, cache)
	file := filepath.Join(dir, "experiments.yaml")
	sweep := filepath.Join(dir, "sweep")
	out, errs, code := runTinyscale("launch", "slurm", "-f", file, "--dir", sweep)
	if code != 0 {
		t.Fatalf("launch slurm: exit %d\n%s\n%s", code, out, errs)
	}
	bin := filepath.Join(sweep, "bin", "tinyscale")
	arr, _ := os.ReadFile(filepath.Join(sweep, "array.sbatch"))
	if !strings.Contains(string(arr), "exec '"+bin+"' run ") {
		t.Errorf("array.sbatch does not run %s:\n%s", bin, arr)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(exe)
	got, err := os.ReadFile(bin)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not a copy of the running executable (%v)", bin, err)
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("%s mode %v (%v), want 0755", bin, fi.Mode(), err)
	}
}
