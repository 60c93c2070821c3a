package runglob

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"paper-pair", "paper-pair/silia/params=1M,seed=1", true},
		{"paper-pair/silia", "paper-pair/silia/params=1M,seed=1", true},
		{"paper-pair/*", "paper-pair/silia/params=1M,seed=1", true},
		{"paper", "paper-pair/silia/params=1M,seed=1", false},
		{"*", "a/b", true},
		{"*/b", "a/b", true},
		{"b", "a/b", false},
		{"[", "a", false},
		{"*/silia/*", "exp/gpt2/seed=1", false},
	}
	for _, tc := range tests {
		if got := Match(tc.glob, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.glob, tc.name, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	if err := Check("paper-*"); err != nil {
		t.Errorf("Check(paper-*) = %v", err)
	}
	if err := Check("["); err == nil {
		t.Error("Check([) = nil, want an error")
	}
}
