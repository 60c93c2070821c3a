// Package pairkey holds the one format of a run's matched-pair key, shared
// by sweeps (which writes it when it expands a run) and store (whose
// migration back-fills it for runs recorded before the key existed).
package pairkey

import (
	"sort"
	"strings"
)

// Key is the canonical matched-pair key: "<experiment>", then "/k=v,..." for
// the swept keys other than seed in key order (when there are any), then
// "/<shape>" when shape is not empty. Runs of one experiment with equal keys
// and families differ only by seed.
func Key(experiment string, sweep map[string]string, shape string) string {
	keys := make([]string, 0, len(sweep))
	for k := range sweep {
		if k != "seed" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	s := experiment
	if len(keys) > 0 {
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = k + "=" + sweep[k]
		}
		s += "/" + strings.Join(items, ",")
	}
	if shape != "" {
		s += "/" + shape
	}
	return s
}
