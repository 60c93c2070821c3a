package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tinyscale/tinyscale/models"
)

// exportCmd writes a run's latest weights as a safetensors file that loads
// into the PyTorch reference models (tools/torch_models.py).
type exportCmd struct{ e env }

func newExportCmd(e env) command { return exportCmd{e: e} }

// Name implements command.
func (exportCmd) Name() string { return "export" }

// Summary implements command.
func (exportCmd) Summary() string { return "write a run's latest weights as PyTorch-named safetensors" }

// Run implements command.
func (c exportCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	mf := addModelFlags(fs)
	out := fs.String("out", "", "output `FILE`.safetensors (must not exist unless --force)")
	force := fs.Bool("force", false, "replace an existing --out file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale export --run NAME --out FILE.safetensors [--db PATH] [--force]\n\n"+
			"%s. Tensors carry the PyTorch state_dict names (a tied\n"+
			"matrix under both names); __metadata__ holds family, config and tokenizer JSON.\n\nflags:\n", c.Summary())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *mf.run == "":
		return usagef("--run is required")
	case *out == "":
		return usagef("--out is required")
	case !strings.HasSuffix(*out, ".safetensors"):
		return usagef("--out %q: the file name must end in .safetensors", *out)
	}
	if fi, err := os.Stat(*out); err == nil && fi.IsDir() {
		return fmt.Errorf("--out %s is a folder; give a file name such as %s", *out, filepath.Join(*out, "model.safetensors"))
	} else if err == nil && !*force {
		return fmt.Errorf("--out %s exists; remove it, choose another name, or pass --force to replace it", *out)
	}
	snap, err := mf.load(ctx, c.e)
	if err != nil {
		return err
	}
	n, err := exportSnapshot(snap, *out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.e.stdout, "wrote %s: run %s at step %d, %s, %d parameters\n", *out, snap.run, snap.step, snap.cfg.Family, n)
	return err
}

// exportSnapshot writes s to path and returns the number of parameters.
func exportSnapshot(s *modelSnapshot, path string) (int64, error) {
	inf, _, err := s.build() // validates the tokenizer and the weights
	if err != nil {
		return 0, err
	}
	cfg := inf.Config()
	if err := models.SaveSafetensors(path, cfg, s.tokenizer, s.params); err != nil {
		return 0, err
	}
	total, _ := cfg.ParamCounts()
	return total, nil
}
