package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateHelp = flag.Bool("update-help", false, "rewrite testdata/help.golden")

// TestHelpGolden: `tinyscale help` lists every command with its summary in
// aligned columns, whatever the longest command name is.
func TestHelpGolden(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runMain(context.Background(), []string{"help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("help exit %d: %s", code, stderr.String())
	}
	golden := filepath.Join("testdata", "help.golden")
	if *updateHelp {
		if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != string(want) {
		t.Errorf("help output differs from %s (go test -run TestHelpGolden -update-help rewrites it):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
