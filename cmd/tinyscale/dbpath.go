package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/tinyscale/tinyscale/sweeps"
)

// defaultExperimentsFile is what -f defaults to.
const defaultExperimentsFile = "experiments.yaml"

// defaultDBFile is the database used when neither --db nor the YAML's db key says otherwise.
const defaultDBFile = "results.db"

// resolveDBPath returns flagValue when set, else the `db:` key of the
// experiments file at yamlPath (read by sweeps, the only reader of that
// file), else results.db. A missing experiments file is not an error (status
// and report work from the database alone).
func resolveDBPath(flagValue, yamlPath string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	h, err := sweeps.ReadHeader(yamlPath)
	if errors.Is(err, fs.ErrNotExist) {
		return defaultDBFile, nil
	}
	if err != nil {
		return "", fmt.Errorf("read db key of %s: %w", yamlPath, err)
	}
	if h.DB == "" {
		return defaultDBFile, nil
	}
	return h.DB, nil
}
