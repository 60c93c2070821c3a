//go:build !linux

package report

import (
	"errors"
)

// exchange is not available here: WriteDir falls back to two renames.
func exchange(a, b string) error { return errors.New("atomic exchange not supported") }
