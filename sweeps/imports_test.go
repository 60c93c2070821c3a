package sweeps

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlySweepsImportsYAML enforces that sweeps is the only reader of
// experiments files: no other package of the module (tests included) imports
// a YAML library.
func TestOnlySweepsImportsYAML(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command("go", "list", "-f",
		`{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}`, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/tinyscale/tinyscale/sweeps"
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		checked++
		if f[0] == self {
			continue
		}
		for _, imp := range f[1:] {
			if strings.Contains(imp, "yaml") {
				t.Errorf("package %s imports %s: only %s may parse YAML (use sweeps.Load or sweeps.ReadHeader)", f[0], imp, self)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("go list listed only %d packages:\n%s", checked, out)
	}
}
