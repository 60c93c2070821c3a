package pairkey

import "testing"

func TestKey(t *testing.T) {
	tests := []struct {
		experiment string
		sweep      map[string]string
		shape      string
		want       string
	}{
		{"pair", nil, "", "pair"},
		{"pair", map[string]string{"seed": "2"}, "", "pair"},
		{"pair", map[string]string{"seed": "2", "params": "1M"}, "", "pair/params=1M"},
		{"lr", map[string]string{"optimizer.lr": "3e-3", "params": "1M", "seed": "1"}, "", "lr/optimizer.lr=3e-3,params=1M"},
		{"twice", map[string]string{"seed": "1"}, "64x4x2", "twice/64x4x2"},
		{"twice", map[string]string{"block_size": "128"}, "64x4x2", "twice/block_size=128/64x4x2"},
	}
	for _, tc := range tests {
		if got := Key(tc.experiment, tc.sweep, tc.shape); got != tc.want {
			t.Errorf("Key(%q, %v, %q) = %q, want %q", tc.experiment, tc.sweep, tc.shape, got, tc.want)
		}
	}
}
