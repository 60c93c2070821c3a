package serve

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// fixture writes a done, a running (live lease), a stalled, a failed and a
// pending run, then reopens the file read-only as `tinyscale serve` does.
// The writable handle is returned to keep writing.
func fixture(t *testing.T) (ro, rw *store.DB) {
	t.Helper()
	ctx := context.Background()
	rw = storetest.MustOpenDB(t, store.WithClock(func() time.Time { return t0 }))
	for _, n := range []string{"e/done", "e/live", "e/stalled", "e/failed", "e/pending"} {
		r := storetest.Run(n, "h-"+n)
		r.ParamsTotal = 123456
		storetest.MustAddRun(t, rw, r)
	}
	write := func(run string, n int) {
		var rows []store.Step
		for i := 1; i <= n; i++ {
			loss := 5 - float64(i)/100
			if i == 3 {
				loss = math.NaN()
			}
			rows = append(rows, store.Step{Step: int64(i), Tokens: int64(64 * i), Flops: float64(i), Loss: loss, LR: 1e-3,
				StepMS: 500, ElapsedS: 0.5 * float64(i), Time: t0.Add(time.Duration(i) * time.Second)})
		}
		if err := rw.WriteSteps(ctx, run, rows); err != nil {
			t.Fatal(err)
		}
	}
	write("e/done", 100)
	write("e/live", 40)
	write("e/stalled", 10)
	write("e/failed", 5)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rw.WriteEval(ctx, store.Eval{Run: "e/done", Step: 50, Split: store.SplitVal, Loss: 4.6, BPB: 6}))
	must(rw.WriteEval(ctx, store.Eval{Run: "e/done", Step: 100, Split: store.SplitFinalVal, Loss: 4.1, BPB: 5.5}))
	must(rw.WriteEval(ctx, store.Eval{Run: "e/live", Step: 20, Split: store.SplitVal, Loss: 4.7, BPB: math.NaN()}))
	must(rw.WriteSample(ctx, store.Sample{Run: "e/done", Step: 100, Prompt: "Once", Text: "Once <b>upon</b> a time"}))
	must(rw.MarkFinished(ctx, "e/done"))
	for _, n := range []string{"e/live", "e/stalled"} {
		must(rw.SetStatus(ctx, n, store.StatusRunning, ""))
	}
	if ok, err := rw.ClaimRun(ctx, "e/live", "host:1", time.Hour); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	must(rw.SetStatus(ctx, "e/failed", store.StatusFailed, "loss is NaN at step 5"))
	ro, err := store.OpenReadOnly(rw.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro, rw
}

func newTestServer(t *testing.T, db *store.DB) (*Server, *httptest.Server) {
	t.Helper()
	s := New(db, Options{Now: func() time.Time { return t0.Add(time.Minute) }})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func get(t *testing.T, url string, wantCode int) (string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantCode {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, wantCode)
	}
	return string(b), resp.Header
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	body, h := get(t, url, http.StatusOK)
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", url, ct)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%s: %v in %s", url, err, body)
	}
}

func TestIndexAndAssets(t *testing.T) {
	ro, _ := fixture(t)
	_, ts := newTestServer(t, ro)
	page, h := get(t, ts.URL+"/", http.StatusOK)
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(page, `<script src="static/app.js">`) ||
		!strings.Contains(page, `id="chart"`) {
		t.Errorf("index: %s\n%s", h.Get("Content-Type"), page)
	}
	for _, a := range []struct{ path, ctype string }{{"/static/app.js", "javascript"}, {"/static/style.css", "text/css"}} {
		body, h := get(t, ts.URL+a.path, http.StatusOK)
		if !strings.Contains(h.Get("Content-Type"), a.ctype) || len(body) < 500 {
			t.Errorf("%s: %q, %d bytes", a.path, h.Get("Content-Type"), len(body))
		}
	}
	// Nothing is loaded from elsewhere: no absolute URL but the SVG namespace.
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		b, _ := assets.ReadFile("assets/" + name)
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if strings.Contains(s, "http://") || strings.Contains(s, "https://") || strings.Contains(s, "//cdn") {
			t.Errorf("%s refers to an external URL", name)
		}
	}
	get(t, ts.URL+"/nope", http.StatusNotFound)
	if resp, err := http.Post(ts.URL+"/api/runs", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/runs: %v %v", resp.Status, err)
	}
}

func TestAPIRuns(t *testing.T) {
	ro, _ := fixture(t)
	_, ts := newTestServer(t, ro)
	var resp RunsResponse
	getJSON(t, ts.URL+"/api/runs", &resp)
	if resp.DB != ro.Path() || resp.PollMS != 1000 || len(resp.Runs) != 5 {
		t.Fatalf("response %+v", resp)
	}
	by := map[string]RunInfo{}
	for _, r := range resp.Runs {
		by[r.Name] = r
	}
	f := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	live := by["e/live"]
	// 40 of 100 steps in 20 s of training: 60 steps at 0.5 s each remain.
	if live.Status != "running" || live.Stalled || f(live.Progress) != 0.4 || f(live.ETAS) != 30 || f(live.ElapsedS) != 20 ||
		f(live.LastLoss) != 4.6 || f(live.BestValLoss) != 4.7 || *live.StepsTotal != 100 || live.ParamsTotal != 123456 {
		t.Errorf("live run %+v", live)
	}
	if st := by["e/stalled"]; !st.Stalled || st.ETAS != nil || f(st.Progress) != 0.1 {
		t.Errorf("stalled run %+v", st)
	}
	if d := by["e/done"]; d.Status != "done" || f(d.Progress) != 1 || d.ETAS != nil || f(d.BestValLoss) != 4.1 {
		t.Errorf("done run %+v", d)
	}
	if fl := by["e/failed"]; fl.Status != "failed" || fl.FailReason != "loss is NaN at step 5" {
		t.Errorf("failed run %+v", fl)
	}
	if p := by["e/pending"]; p.Status != "pending" || p.LastLoss != nil || p.ElapsedS != nil || f(p.Progress) != 0 {
		t.Errorf("pending run %+v", p)
	}
}

func TestAPISteps(t *testing.T) {
	ro, rw := fixture(t)
	_, ts := newTestServer(t, ro)
	var all StepsResponse
	getJSON(t, ts.URL+"/api/steps?run=e/live", &all)
	if len(all.Step) != 40 || all.Step[0] != 1 || all.Last != 40 || all.More || all.Status != "running" || all.StepsTotal != 100 {
		t.Fatalf("steps %+v", all)
	}
	if all.Loss[2] != nil || *all.Loss[0] != 4.99 || *all.LR[0] != 1e-3 {
		t.Errorf("loss %v (NaN must be null)", all.Loss[:4])
	}
	if len(all.Evals) != 1 || all.Evals[0].Split != "val" || *all.Evals[0].Loss != 4.7 || all.Evals[0].BPB != nil {
		t.Errorf("evals %+v", all.Evals)
	}
	// Incremental: only what is new after a step, in pages.
	var page StepsResponse
	getJSON(t, ts.URL+"/api/steps?run=e%2Flive&after=35&limit=3", &page)
	if jsonOf(page.Step) != "[36,37,38]" || !page.More || page.Last != 38 {
		t.Errorf("page %+v", page)
	}
	// The training process writes more; the next poll sees exactly that.
	if err := rw.WriteSteps(context.Background(), "e/live", []store.Step{{Step: 41, Loss: 4.5, Time: t0}, {Step: 42, Loss: 4.4, Time: t0}}); err != nil {
		t.Fatal(err)
	}
	var next StepsResponse
	getJSON(t, ts.URL+"/api/steps?run=e/live&after=40", &next)
	if jsonOf(next.Step) != "[41,42]" || next.Last != 42 || next.More {
		t.Errorf("after 40: %+v", next)
	}
	var none StepsResponse
	getJSON(t, ts.URL+"/api/steps?run=e/pending&after=0", &none)
	if len(none.Step) != 0 || none.Last != 0 || jsonOf(none.Step) != "[]" {
		t.Errorf("pending: %+v", none)
	}
	for _, c := range []struct {
		q    string
		code int
		want string
	}{
		{"", http.StatusBadRequest, "missing ?run=NAME"},
		{"?run=e/live&after=x", http.StatusBadRequest, `after=\"x\"`},
		{"?run=e/live&limit=0", http.StatusBadRequest, "limit"},
		{"?run=nope", http.StatusNotFound, "not found"},
	} {
		body, _ := get(t, ts.URL+"/api/steps"+c.q, c.code)
		if !strings.Contains(body, c.want) {
			t.Errorf("%s: %s, want %q", c.q, body, c.want)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAPISamples(t *testing.T) {
	ro, _ := fixture(t)
	_, ts := newTestServer(t, ro)
	var got []SampleInfo
	getJSON(t, ts.URL+"/api/samples?run=e/done", &got)
	if len(got) != 1 || got[0].Step != 100 || got[0].Prompt != "Once" || got[0].Text != "Once <b>upon</b> a time" {
		t.Errorf("samples %+v", got)
	}
	getJSON(t, ts.URL+"/api/samples?run=e/live", &got)
	if got == nil || len(got) != 0 {
		t.Errorf("no samples: %+v, want []", got)
	}
	get(t, ts.URL+"/api/samples?run=nope", http.StatusNotFound)
	get(t, ts.URL+"/api/samples", http.StatusBadRequest)
}

func TestReport(t *testing.T) {
	ro, _ := fixture(t)
	s, ts := newTestServer(t, ro)
	page, h := get(t, ts.URL+"/report/", http.StatusOK)
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(page, "figures/") {
		t.Fatalf("report index (%s):\n%.500s", h.Get("Content-Type"), page)
	}
	// Every figure the page shows is served.
	s.mu.Lock()
	rep := s.rep
	s.mu.Unlock()
	n := 0
	for name := range rep.Files {
		if strings.HasSuffix(name, ".png") {
			body, h := get(t, ts.URL+"/report/"+name, http.StatusOK)
			if h.Get("Content-Type") != "image/png" || !strings.HasPrefix(body, "\x89PNG") {
				t.Errorf("%s: %s", name, h.Get("Content-Type"))
			}
			n++
		}
		if strings.HasSuffix(name, ".md") {
			if _, h := get(t, ts.URL+"/report/"+name, http.StatusOK); !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
				t.Errorf("%s: %s", name, h.Get("Content-Type"))
			}
		}
	}
	if n == 0 {
		t.Error("report has no figures")
	}
	get(t, ts.URL+"/report/index.html", http.StatusOK)
	// The report's folders, which its index links to, list their files.
	list, _ := get(t, ts.URL+"/report/tables/", http.StatusOK)
	if !strings.Contains(list, `href="runs.md"`) {
		t.Errorf("tables/ listing:\n%s", list)
	}
	if resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(ts.URL + "/report/figures"); err != nil || resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("figures without a slash: %v %v", resp.Status, err)
	}
	get(t, ts.URL+"/report/nope.png", http.StatusNotFound)
	get(t, ts.URL+"/report/../../etc/passwd", http.StatusNotFound)
	if s.repBuilds != 1 {
		t.Errorf("report built %d times, want 1 (cached)", s.repBuilds)
	}
	get(t, ts.URL+"/report/?refresh=1", http.StatusOK)
	if s.repBuilds != 2 {
		t.Errorf("?refresh: built %d times, want 2", s.repBuilds)
	}
}

func TestReportOfEmptyDatabase(t *testing.T) {
	rw := storetest.MustOpenDB(t)
	_, ts := newTestServer(t, rw)
	body, _ := get(t, ts.URL+"/report/", http.StatusNotFound)
	if !strings.Contains(body, "no runs") {
		t.Errorf("body %s", body)
	}
	var resp RunsResponse
	getJSON(t, ts.URL+"/api/runs", &resp)
	if resp.Runs == nil || len(resp.Runs) != 0 {
		t.Errorf("runs %+v, want []", resp.Runs)
	}
}

// TestReadsNeverBlockWrites polls the API as fast as it can while a writer
// commits batches: every write succeeds and so does every read.
func TestReadsNeverBlockWrites(t *testing.T) {
	ro, rw := fixture(t)
	_, ts := newTestServer(t, ro)
	done := make(chan error)
	go func() {
		for i := 0; i < 50; i++ {
			step := int64(41 + i)
			if err := rw.WriteSteps(context.Background(), "e/live", []store.Step{{Step: step, Loss: 4, Time: t0}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for polling := true; polling; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("write while serving: %v", err)
			}
			polling = false
		default:
			var r StepsResponse
			getJSON(t, ts.URL+"/api/steps?run=e/live&after=30", &r)
			var rr RunsResponse
			getJSON(t, ts.URL+"/api/runs", &rr)
		}
	}
	var r StepsResponse
	getJSON(t, ts.URL+"/api/steps?run=e/live&after=0", &r)
	if r.Last != 90 {
		t.Errorf("last step %d, want 90", r.Last)
	}
	// The server's handle is read-only: a write through it fails.
	if err := ro.WriteSteps(context.Background(), "e/live", []store.Step{{Step: 1000, Time: t0}}); err == nil {
		t.Error("write through the dashboard's handle succeeded")
	}
}

func TestListenAndServeStopsPromptly(t *testing.T) {
	ro, _ := fixture(t)
	s := New(ro, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe(ctx, "127.0.0.1:0", func(a string) { addrc <- a }) }()
	addr := <-addrc
	var resp RunsResponse
	getJSON(t, "http://"+addr+"/api/runs", &resp)
	if len(resp.Runs) != 5 {
		t.Errorf("%d runs", len(resp.Runs))
	}
	// Requests naming another host (DNS rebinding) are refused.
	for host, want := range map[string]int{"evil.example": 403, "evil.example:80": 403, "localhost:1": 200, addr: 200, "[::1]:9": 200} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/runs", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("stopped after %v, want under a second", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("server still answers after stopping")
	}
	// A taken address is an error, not a hang.
	ln := httptest.NewServer(http.NotFoundHandler())
	defer ln.Close()
	if err := s.ListenAndServe(context.Background(), strings.TrimPrefix(ln.URL, "http://"), nil); err == nil {
		t.Error("listening on a taken address succeeded")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.0.0.2:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.168.1.5:8080": false, "example.com:80": false, "nonsense": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
