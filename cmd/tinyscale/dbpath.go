package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"
)

// defaultExperimentsFile is what -f defaults to.
const defaultExperimentsFile = "experiments.yaml"

// defaultDBFile is the database used when neither --db nor the YAML's db key says otherwise.
const defaultDBFile = "results.db"

// resolveDBPath returns flagValue when set, else the `db:` key of the
// experiments file at yamlPath, else results.db. A missing experiments file is
// not an error (status and report work from the database alone).
func resolveDBPath(flagValue, yamlPath string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	b, err := os.ReadFile(yamlPath)
	if errors.Is(err, fs.ErrNotExist) {
		return defaultDBFile, nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s for its db key: %w", yamlPath, err)
	}
	var top struct {
		DB string `yaml:"db"`
	}
	if err := yaml.Unmarshal(b, &top); err != nil {
		return "", fmt.Errorf("read db key of %s: %w", yamlPath, err)
	}
	if top.DB == "" {
		return defaultDBFile, nil
	}
	return top.DB, nil
}
