package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// browserE2EEnv opts in to TestDashboardInBrowser; .ci/run sets it after
// installing Debian's chromium.
const browserE2EEnv = "TINYSCALE_E2E_BROWSER"

// e2eYAML is one run long enough (thousands of small steps, about 20-40 s
// on 2 cores) to be watched while it trains.
const e2eYAML = `db: results.db
defaults:
  data: tiny
  tokenizer: {kind: char}
  block_size: 32
  batch_size: 8
  optimizer: {name: adamw, lr: 1e-2, min_lr: 1e-3, warmup: 5, schedule: cosine}
  budget: {steps: 8000}
  eval: {every: 250, batches: 1, final_batches: 2}
  checkpoint: {every: 2000, keep: 1}
  seed: 1
datasets:
  tiny: {kind: synthetic, generator: stories, tokens: 20000}
experiments:
  - name: live
    models:
      - {family: gpt2, n_embd: 48, n_head: 2, n_layer: 2}
`

// TestDashboardInBrowser trains a run in a child process, serves the
// dashboard on its database, loads the page in headless Chromium and reads,
// through the DevTools protocol, the number of points of the running run's
// curve twice: it must grow while the page is not reloaded.
func TestDashboardInBrowser(t *testing.T) {
	if os.Getenv(browserE2EEnv) != "1" {
		t.Skip("set " + browserE2EEnv + "=1 (and install chromium) to run the headless-browser test")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("%s is set but chromium is not installed (apt-get install chromium): %v", browserE2EEnv, err)
	}
	dir := t.TempDir()
	yaml := filepath.Join(dir, "experiments.yaml")
	if err := os.WriteFile(yaml, []byte(e2eYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "results.db")

	// 1. Train in the background: this test binary re-executed as `tinyscale run`.
	trainer := exec.Command(os.Args[0], "-test.run=^TestRunChildProcess$")
	trainer.Env = append(os.Environ(), runChildEnv+"="+strings.Join([]string{"run", "-f", yaml, "--db", dbPath, "--cache", filepath.Join(dir, "cache")}, "\x1f"))
	trainLog, _ := os.Create(filepath.Join(dir, "train.log"))
	defer trainLog.Close()
	trainer.Stdout, trainer.Stderr = trainLog, trainLog
	trainer.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := trainer.Start(); err != nil {
		t.Fatal(err)
	}
	trainDone := make(chan error, 1)
	go func() { trainDone <- trainer.Wait() }()
	defer stopGroup(t, "trainer", trainer, trainDone)
	trainLogText := func() string { b, _ := os.ReadFile(filepath.Join(dir, "train.log")); return string(b) }

	// Wait for the database to exist with the run registered.
	waitFor(t, 60*time.Second, "the trainer to create the database", func() bool {
		select {
		case err := <-trainDone:
			trainDone <- err
			t.Fatalf("trainer ended early: %v\n%s", err, trainLogText())
		default:
		}
		_, err := os.Stat(dbPath)
		return err == nil
	})

	// 2. Serve the dashboard (the real command, in this process).
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	serveDone := make(chan int, 1)
	go func() {
		code := runMain(ctx, []string{"serve", "--db", dbPath, "--addr", "127.0.0.1:0", "--poll-ms", "300"}, pw, io.Discard)
		pw.Close()
		serveDone <- code
	}()
	defer func() {
		cancel()
		select {
		case <-serveDone:
		case <-time.After(3 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	sc := bufio.NewScanner(pr)
	var url string
	for url == "" && sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " on http://"); ok {
			url = "http://" + strings.TrimSuffix(rest, " (Ctrl-C to stop)")
		}
	}
	if url == "" {
		t.Fatal("serve printed no address")
	}
	go io.Copy(io.Discard, pr)

	// 3. Headless Chromium on the page, with the DevTools protocol on a free port.
	profile := filepath.Join(dir, "chromium-profile")
	browser := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-dev-shm-usage", "--user-data-dir="+profile, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", url)
	browserLog, _ := os.Create(filepath.Join(dir, "chromium.log"))
	defer browserLog.Close()
	browser.Stdout, browser.Stderr = browserLog, browserLog
	browser.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := browser.Start(); err != nil {
		t.Fatal(err)
	}
	browserDone := make(chan error, 1)
	go func() { browserDone <- browser.Wait() }()
	defer stopGroup(t, "chromium", browser, browserDone)
	browserLogText := func() string { b, _ := os.ReadFile(filepath.Join(dir, "chromium.log")); return string(b) }

	var port int
	waitFor(t, 30*time.Second, "chromium's DevToolsActivePort", func() bool {
		select {
		case err := <-browserDone:
			browserDone <- err
			t.Fatalf("chromium ended: %v\n%s", err, browserLogText())
		default:
		}
		b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if err != nil {
			return false
		}
		port, err = strconv.Atoi(strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)[0])
		return err == nil && port > 0
	})
	var wsURL string
	waitFor(t, 20*time.Second, "the page target", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/json/list", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var targets []struct{ Type, URL, WebSocketDebuggerURL string }
		if json.NewDecoder(resp.Body).Decode(&targets) != nil {
			return false
		}
		for _, tg := range targets {
			if tg.Type == "page" && strings.HasPrefix(tg.URL, url) {
				wsURL = tg.WebSocketDebuggerURL
			}
		}
		return wsURL != ""
	})
	cdp, err := dialCDP(ctx, wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cdp.close()

	// The number of loaded points of live/gpt2's curve, and whether the page
	// is the one marked (a reload would clear the marker).
	const probe = `(() => {
		const line = document.querySelector('#chart polyline[data-run="live/gpt2"]');
		const row = document.querySelector('#runs tr[data-run="live/gpt2"]');
		return JSON.stringify({
			points: line ? Number(line.dataset.points) : -1,
			drawn: line ? line.getAttribute('points').trim().split(/\s+/).filter(Boolean).length : -1,
			status: row ? row.dataset.status : '',
			marked: window.__e2eMarker === 'kept',
			live: document.getElementById('live')?.textContent ?? '',
			eta: row?.querySelector('td.eta')?.textContent ?? '',
			foreign: performance.getEntriesByType('resource').map(e => e.name).filter(u => !u.startsWith(location.origin + '/')),
		});
	})()`
	type observation struct {
		Points, Drawn     int
		Status, Live, ETA string
		Marked            bool
		Foreign           []string // resources the page loaded from anywhere but the dashboard
	}
	observe := func() observation {
		var o observation
		s, err := cdp.evaluate(ctx, probe)
		if err != nil {
			t.Fatalf("Runtime.evaluate: %v", err)
		}
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			t.Fatalf("probe %q: %v", s, err)
		}
		return o
	}
	var first observation
	waitFor(t, 60*time.Second, "the running run's curve to appear", func() bool {
		first = observe()
		return first.Points > 0 && first.Drawn > 0 && first.Status == "running"
	})
	if _, err := cdp.evaluate(ctx, `window.__e2eMarker = 'kept'`); err != nil {
		t.Fatal(err)
	}
	t.Logf("first look: %+v", first)
	var second observation
	waitFor(t, 60*time.Second, "the curve to grow", func() bool {
		second = observe()
		return second.Points > first.Points
	})
	t.Logf("second look: %+v", second)
	if !second.Marked {
		t.Fatal("the page was reloaded between the two looks (marker lost)")
	}
	if second.Drawn < first.Drawn {
		t.Errorf("drawn points went from %d to %d", first.Drawn, second.Drawn)
	}
	if second.ETA == "" || second.ETA == "–" {
		t.Errorf("no ETA shown for the running run: %q", second.ETA)
	}
	if len(second.Foreign) > 0 {
		t.Errorf("the page loaded resources from elsewhere: %q", second.Foreign)
	}
	if strings.Contains(second.Live, "failed") {
		t.Errorf("page reports a failed update: %q", second.Live)
	}
	select {
	case err := <-trainDone:
		trainDone <- err
		t.Logf("note: training ended before the second look (%v); the growth was still seen live", err)
	default:
	}
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// stopGroup ends the process group of cmd (started with Setpgid): SIGTERM,
// then SIGKILL after two seconds. Only the processes this test started are
// in that group.
func stopGroup(t *testing.T, name string, cmd *exec.Cmd, done chan error) {
	select {
	case <-done:
		return
	default:
	}
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Children that outlived their parent are in the group too.
	syscall.Kill(-pgid, syscall.SIGKILL)
	t.Logf("stopped %s (process group %d)", name, pgid)
}

// cdpConn is a minimal Chrome DevTools protocol client: numbered calls over
// one websocket, events ignored.
type cdpConn struct {
	c  *websocket.Conn
	id int
}

func dialCDP(ctx context.Context, url string) (*cdpConn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to DevTools at %s: %w", url, err)
	}
	c.SetReadLimit(16 << 20)
	return &cdpConn{c: c}, nil
}

func (d *cdpConn) close() { d.c.Close(websocket.StatusNormalClosure, "") }

// call sends method with params and returns the result of the answer.
func (d *cdpConn) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d.id++
	msg, err := json.Marshal(map[string]any{"id": d.id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := d.c.Write(ctx, websocket.MessageText, msg); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	for {
		_, b, err := d.c.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if resp.ID != d.id {
			continue // an event or an older answer
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		return resp.Result, nil
	}
}

// evaluate runs a JavaScript expression in the page and returns its value
// as a string (Runtime.evaluate with returnByValue).
func (d *cdpConn) evaluate(ctx context.Context, expr string) (string, error) {
	res, err := d.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return "", err
	}
	var r struct {
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return "", err
	}
	if r.ExceptionDetails != nil {
		return "", fmt.Errorf("exception: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return fmt.Sprint(r.Result.Value), nil
}
