package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeCommand(t *testing.T) {
	db := statusFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() { code <- runMain(ctx, []string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, &out, &errb) }()
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), " on http://"); ok {
				url = "http://" + strings.TrimSuffix(rest, " (Ctrl-C to stop)")
			}
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("no address printed; stdout %q stderr %q", out.String(), errb.String())
	}
	resp, err := http.Get(url + "api/runs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"pair/silia"`) {
		t.Errorf("api/runs: %d %s", resp.StatusCode, b)
	}
	if strings.Contains(errb.String(), "SERVING BEYOND") {
		t.Error("loopback address warned about")
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 || !strings.HasSuffix(out.String(), "stopped\n") {
			t.Errorf("exit %d, stdout %q, stderr %q", c, out.String(), errb.String())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("serve did not stop within 2 s of cancellation")
	}
}

func TestServeWarnsBeyondLoopback(t *testing.T) {
	db := statusFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stop at once: only the warning matters
	var out, errb syncBuffer
	if c := runMain(ctx, []string{"serve", "--db", db, "--addr", "0.0.0.0:0"}, &out, &errb); c != 0 {
		t.Fatalf("exit %d: %s", c, errb.String())
	}
	if !strings.Contains(errb.String(), "SERVING BEYOND THIS MACHINE") {
		t.Errorf("no warning for 0.0.0.0: %q", errb.String())
	}
}

func TestServeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--db", filepath.Join(t.TempDir(), "none.db")}, 1, "no results database at"},
		{[]string{"--poll-ms", "5"}, 2, "--poll-ms 5"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		// A bad --addr is a usage error before anything is opened, with no
		// "SERVING BEYOND THIS MACHINE" warning for an address never served.
		{[]string{"--addr", "junk"}, 2, `tinyscale serve: --addr "junk": want host:port, e.g. 127.0.0.1:8080 (port 0 picks a free one)`},
		{[]string{"--addr", "127.0.0.1:99999"}, 2, `tinyscale serve: --addr "127.0.0.1:99999": port "99999" is not a port number from 0 to 65535`},
		{[]string{"--db", statusFixture(t), "--addr", "192.0.2.1:0"}, 1, "bind: cannot assign requested address"},
	} {
		_, errs, code := runCmd(t, append([]string{"serve"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, %q; want %d, %q", tc.args, code, errs, tc.code, tc.want)
		}
		if strings.Contains(errs, "SERVING BEYOND") {
			t.Errorf("%q: warned of serving beyond this machine but served nothing: %q", tc.args, errs)
		}
	}
}

// TestServeWaitsForAMigratingDatabase: a dashboard started while `run` is
// still creating or migrating the database (it reads as an older schema for
// a moment) waits for the writer instead of failing; a database that stays
// old is reported with the older-schema error once the grace has passed.
func TestServeWaitsForAMigratingDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.db")
	emptySQLite(t, path) // what a writer's first instant leaves: schema version 0

	migrated := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		db, err := store.Open(path) // the writer migrates to the latest version
		if err == nil {
			err = db.Close()
		}
		migrated <- err
	}()
	db, err := openForViewing(context.Background(), path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("openForViewing while a writer migrates: %v", err)
	}
	db.Close()
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}

	stale := filepath.Join(dir, "stale.db")
	emptySQLite(t, stale)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := openForViewing(ctx, stale, slog.New(slog.NewTextHandler(io.Discard, nil))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("openForViewing(stale) under a 200 ms context = %v, want the context's end", err)
	}
}

// emptySQLite creates a valid SQLite file with no tables (user_version 0).
func emptySQLite(t *testing.T, path string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("PRAGMA user_version = 0; VACUUM"); err != nil {
		t.Fatal(err)
	}
}
