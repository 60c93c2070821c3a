package sysmem

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAvailable(t *testing.T) {
	meminfo := "MemTotal:       24683584 kB\nMemFree:        20902648 kB\nMemAvailable:   23961520 kB\n"
	tests := []struct {
		name  string
		files map[string]string
		want  Limit
		fails bool
	}{
		{"meminfo only", map[string]string{"proc/meminfo": meminfo}, Limit{23961520 * 1024, "MemAvailable"}, false},
		{"cgroup v2 tighter", map[string]string{"proc/meminfo": meminfo,
			"sys/fs/cgroup/memory.max": "4294967296\n", "sys/fs/cgroup/memory.current": "1073741824\n"},
			Limit{3 << 30, "cgroup memory.max"}, false},
		{"cgroup v2 unlimited", map[string]string{"proc/meminfo": meminfo, "sys/fs/cgroup/memory.max": "max\n"},
			Limit{23961520 * 1024, "MemAvailable"}, false},
		{"cgroup v1 by path", map[string]string{"proc/meminfo": meminfo,
			"proc/self/cgroup":                                 "4:memory:/job_7\n0::/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":       "9223372036854771712\n",
			"sys/fs/cgroup/memory/job_7/memory.limit_in_bytes": "2147483648\n",
			"sys/fs/cgroup/memory/job_7/memory.usage_in_bytes": "1073741824\n"},
			Limit{1 << 30, "cgroup memory.limit_in_bytes"}, false},
		{"cgroup v2 by path", map[string]string{"proc/meminfo": meminfo, "proc/self/cgroup": "0::/user.slice/job\n",
			"sys/fs/cgroup/user.slice/job/memory.max": "1000000\n"}, Limit{1000000, "cgroup memory.max"}, false},
		{"nothing", map[string]string{}, Limit{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for rel, c := range tc.files {
				write(t, root, rel, c)
			}
			got, err := availableAt(root)
			if tc.fails {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1 kB", 411_000_000_000: "411 GB", 1_234_567: "1.23 MB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
