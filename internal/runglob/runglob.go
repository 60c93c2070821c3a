// Package runglob is the run-selection rule that `tinyscale run --only` and
// `tinyscale export-metrics --run` share: a path.Match glob (where * does not
// cross '/') that selects a run when it matches the run's name or one of its
// '/'-prefixes, so "paper-pair" selects a whole experiment.
package runglob

import (
	"path"
	"strings"
)

// Check returns path.Match's error for a malformed glob (nil when it is
// well formed).
func Check(glob string) error {
	_, err := path.Match(glob, "")
	return err
}

// Match reports whether glob matches name or one of its '/'-prefixes. A
// malformed glob matches nothing (call Check first to report it).
func Match(glob, name string) bool {
	parts := strings.Split(name, "/")
	for i := len(parts); i >= 1; i-- {
		if ok, _ := path.Match(glob, strings.Join(parts[:i], "/")); ok {
			return true
		}
	}
	return false
}
