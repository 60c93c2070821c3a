// Package serve is tinyscale's local dashboard: an HTTP server that shows the
// runs of a results database (status, progress, ETA), the loss curves of
// running runs as they grow, the report's figures and tables, and samples.
//
// It only reads the database (open it with store.OpenReadOnly): every
// request is a few short read queries, and in WAL mode readers never block
// the training process's writes. The page is plain HTML, CSS and JavaScript
// embedded in the binary (no CDN, nothing fetched from elsewhere); it polls
// the JSON endpoints below to update without a reload.
//
//	GET /                     the dashboard page
//	GET /static/...           its script and style sheet
//	GET /api/runs             every run: status, progress, ETA, losses
//	GET /api/steps?run=R&after=N&limit=M
//	                          run R's steps after step N (columnar) and all its evaluations
//	GET /api/samples?run=R    run R's samples
//	GET /report/...           the report (report.Build), built in memory from the
//	                          database and cached for Options.ReportTTL
package serve

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tinyscale/tinyscale/report"
	"github.com/tinyscale/tinyscale/store"
)

//go:embed assets
var assets embed.FS

// DefaultAddr is where the dashboard listens unless told otherwise: loopback
// only, so that nobody else on the network reads the results.
const DefaultAddr = "127.0.0.1:8080"

// DefaultReportTTL is how long a built report is served before it is built
// again from the database.
const DefaultReportTTL = 30 * time.Second

// maxStepsPerRequest bounds one /api/steps answer; the page asks again for
// the rest.
const maxStepsPerRequest = 50000

// queryTimeout bounds the database work of one request.
const queryTimeout = 10 * time.Second

// Options configures a Server.
type Options struct {
	// Logger receives request errors and server events; nil discards them.
	Logger *slog.Logger
	// Now replaces time.Now (stalled runs, ETA); for tests.
	Now func() time.Time
	// ReportTTL is how long a built report is cached; 0 means DefaultReportTTL.
	ReportTTL time.Duration
	// Experiments orders the report's experiments (sweeps.ReadHeader's order).
	Experiments []string
	// PollMS is how often the page polls for new steps, in milliseconds;
	// 0 means 1000.
	PollMS int
}

// Server serves the dashboard of one results database.
type Server struct {
	db   *store.DB
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	// loopbackHosts, set by ListenAndServe on a loopback address, makes
	// ServeHTTP refuse requests whose Host is not a loopback name or address
	// (a web page that rebinds its own DNS name to 127.0.0.1 cannot read the
	// dashboard through the visitor's browser).
	loopbackHosts bool

	mu        sync.Mutex // guards the cached report
	rep       *report.Report
	repErr    error
	repBuilt  time.Time
	repBuilds int // how many times the report was built (tests)
}

// New returns a Server reading db, which should be opened read-only.
func New(db *store.DB, opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReportTTL == 0 {
		opts.ReportTTL = DefaultReportTTL
	}
	if opts.PollMS <= 0 {
		opts.PollMS = 1000
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{db: db, opts: opts, log: log, mux: http.NewServeMux()}
	static, _ := fs.Sub(assets, "assets")
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /api/runs", s.handleRuns)
	s.mux.HandleFunc("GET /api/steps", s.handleSteps)
	s.mux.HandleFunc("GET /api/samples", s.handleSamples)
	s.mux.HandleFunc("GET /report/{path...}", s.handleReport)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.loopbackHosts && !loopbackHost(r.Host) {
		http.Error(w, "tinyscale serve answers only to 127.0.0.1, [::1] and localhost", http.StatusForbidden)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// IsLoopback reports whether addr (host:port) listens on loopback only. An
// empty host (":8080") listens on every interface and is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackHost reports whether a request's Host header (host or host:port)
// names this machine's loopback interface.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return IsLoopback(net.JoinHostPort(strings.Trim(host, "[]"), "0"))
}

// ListenAndServe serves s on addr until ctx is done, then shuts down within
// a second. On a loopback address it answers only requests addressed to a
// loopback host name (see loopbackHost). ready, when not nil, is called with
// the listening address (the port chosen when addr ends in :0) once
// connections are accepted.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(addr string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.loopbackHosts = IsLoopback(addr)
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close() // a slow request is cut off: stopping on Ctrl-C wins
	}
	<-done
	return nil
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// RunInfo is one run in /api/runs. Unknown values are null.
type RunInfo struct {
	Name               string   `json:"name"`
	Experiment         string   `json:"experiment"`
	Family             string   `json:"family"`
	ParamsTotal        int64    `json:"params_total"`
	ParamsNonEmbedding int64    `json:"params_non_embedding"`
	Status             string   `json:"status"`
	Stalled            bool     `json:"stalled"` // running, but no process holds a live lease
	FailReason         string   `json:"fail_reason,omitempty"`
	Step               int64    `json:"step"`
	StepsTotal         *int64   `json:"steps_total"`
	Progress           *float64 `json:"progress"`  // step/steps_total in [0,1]
	ElapsedS           *float64 `json:"elapsed_s"` // training seconds of the last logged step
	ETAS               *float64 `json:"eta_s"`     // seconds to the last step, for live running runs
	LastLoss           *float64 `json:"last_loss"`
	BestValLoss        *float64 `json:"best_val_loss"`
	UpdatedAt          string   `json:"updated_at,omitempty"` // RFC 3339
}

// RunsResponse is the body of /api/runs.
type RunsResponse struct {
	DB     string    `json:"db"`
	Now    string    `json:"now"`
	PollMS int       `json:"poll_ms"`
	Runs   []RunInfo `json:"runs"`
}

func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	runs, err := s.db.ListRuns(ctx)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	sums, err := s.db.RunSummaries(ctx)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	last, err := s.db.LastSteps(ctx)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	now := s.opts.Now()
	byName := make(map[string]store.RunSummary, len(sums))
	for _, x := range sums {
		byName[x.Name] = x
	}
	resp := RunsResponse{DB: s.db.Path(), Now: now.UTC().Format(time.RFC3339), PollMS: s.opts.PollMS, Runs: []RunInfo{}}
	for _, run := range runs {
		sum := byName[run.Name]
		info := RunInfo{
			Name: run.Name, Experiment: run.Experiment, Family: run.Family,
			ParamsTotal: run.ParamsTotal, ParamsNonEmbedding: run.ParamsNonEmbedding,
			Status: run.Status, Stalled: sum.Stalled(now), FailReason: run.FailReason, Step: run.Step,
			LastLoss: finite(sum.LastLoss), BestValLoss: finite(sum.BestValLoss),
		}
		if !run.UpdatedAt.IsZero() {
			info.UpdatedAt = run.UpdatedAt.UTC().Format(time.RFC3339)
		}
		if run.StepsTotal > 0 {
			total := run.StepsTotal
			info.StepsTotal = &total
			p := math.Min(1, float64(run.Step)/float64(total))
			if run.Status == store.StatusDone {
				p = 1
			}
			info.Progress = &p
		}
		if ls, ok := last[run.Name]; ok {
			info.ElapsedS = finite(&ls.ElapsedS)
			info.ETAS = eta(run, ls, info.Stalled)
		}
		resp.Runs = append(resp.Runs, info)
	}
	s.writeJSON(w, resp)
}

// eta estimates the seconds left of a running run from its mean training
// time per step so far (elapsed_s / step, across resumes).
func eta(run store.Run, last store.Step, stalled bool) *float64 {
	if run.Status != store.StatusRunning || stalled || run.StepsTotal <= 0 || last.Step <= 0 ||
		math.IsNaN(last.ElapsedS) || last.ElapsedS <= 0 {
		return nil
	}
	left := float64(max(run.StepsTotal-last.Step, 0)) * last.ElapsedS / float64(last.Step)
	return &left
}

// StepsResponse is the body of /api/steps: the run's steps after After in
// columns (null where a value is NaN), and every evaluation of the run.
type StepsResponse struct {
	Run        string     `json:"run"`
	Status     string     `json:"status"`
	StepsTotal int64      `json:"steps_total"`
	After      int64      `json:"after"`
	Last       int64      `json:"last"` // the last step returned (After when none)
	More       bool       `json:"more"` // the limit cut the answer short: ask again from Last
	Step       []int64    `json:"step"`
	Loss       []*float64 `json:"loss"`
	LR         []*float64 `json:"lr"`
	Evals      []EvalInfo `json:"evals"`
}

// EvalInfo is one evaluation in /api/steps.
type EvalInfo struct {
	Step     int64    `json:"step"`
	Split    string   `json:"split"`
	Loss     *float64 `json:"loss"`
	BPB      *float64 `json:"bpb"`
	Accuracy *float64 `json:"accuracy,omitempty"`
}

func (s *Server) handleSteps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("run")
	if name == "" {
		s.fail(w, r, http.StatusBadRequest, errors.New("missing ?run=NAME"))
		return
	}
	after, limit := int64(0), maxStepsPerRequest
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, fmt.Errorf("after=%q: want a step number", v))
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			s.fail(w, r, http.StatusBadRequest, fmt.Errorf("limit=%q: want a positive number", v))
			return
		}
		limit = min(n, maxStepsPerRequest)
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	run, err := s.db.GetRun(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	steps, err := s.db.StepsAfter(ctx, name, after, limit+1)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	evals, err := s.db.Evals(ctx, name)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	resp := StepsResponse{Run: name, Status: run.Status, StepsTotal: run.StepsTotal, After: after, Last: after,
		Step: []int64{}, Loss: []*float64{}, LR: []*float64{}, Evals: []EvalInfo{}}
	if len(steps) > limit {
		steps, resp.More = steps[:limit], true
	}
	for _, st := range steps {
		resp.Step = append(resp.Step, st.Step)
		resp.Loss = append(resp.Loss, finite(&st.Loss))
		resp.LR = append(resp.LR, finite(&st.LR))
		resp.Last = st.Step
	}
	for _, e := range evals {
		ei := EvalInfo{Step: e.Step, Split: e.Split, Loss: finite(&e.Loss), BPB: finite(&e.BPB), Accuracy: finite(e.Accuracy)}
		resp.Evals = append(resp.Evals, ei)
	}
	s.writeJSON(w, resp)
}

// SampleInfo is one sample in /api/samples.
type SampleInfo struct {
	Step   int64  `json:"step"`
	Prompt string `json:"prompt"`
	Text   string `json:"text"`
}

func (s *Server) handleSamples(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("run")
	if name == "" {
		s.fail(w, r, http.StatusBadRequest, errors.New("missing ?run=NAME"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	if _, err := s.db.GetRun(ctx, name); errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, err)
		return
	} else if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	samples, err := s.db.Samples(ctx, name)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	out := []SampleInfo{}
	for _, x := range samples {
		out = append(out, SampleInfo{Step: x.Step, Prompt: x.Prompt, Text: x.Text})
	}
	s.writeJSON(w, out)
}

// handleReport serves a file of the report, built in memory from the
// database (the same files `tinyscale report` writes).
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	if p == "" {
		p = "index.html"
	}
	p = path.Clean("/" + p)[1:]
	rep, err := s.report(r.Context(), r.URL.Query().Has("refresh"))
	if errors.Is(err, report.ErrNoRuns) {
		s.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	b, ok := rep.Files[p]
	if !ok {
		// A folder of the report (the index links figures/ and tables/):
		// list its files.
		var names []string
		for name := range rep.Files {
			if rest, found := strings.CutPrefix(name, p+"/"); found && p != "" {
				names = append(names, rest)
			}
		}
		if len(names) == 0 {
			http.NotFound(w, r)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		sort.Strings(names)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><meta charset=\"utf-8\"><title>%s</title><h1>%s/</h1><ul>\n", html.EscapeString(p), html.EscapeString(p))
		for _, n := range names {
			fmt.Fprintf(w, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(url.PathEscape(n)), html.EscapeString(n))
		}
		fmt.Fprintln(w, "</ul>")
		return
	}
	ct := mime.TypeByExtension(path.Ext(p))
	if ct == "" {
		ct = "application/octet-stream"
	}
	if path.Ext(p) == ".md" || path.Ext(p) == ".csv" {
		ct = "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Write(b)
}

// report returns the cached report, building it again when it is older
// than ReportTTL or refresh is set. One build runs at a time.
func (s *Server) report(ctx context.Context, refresh bool) (*report.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !refresh && !s.repBuilt.IsZero() && s.opts.Now().Sub(s.repBuilt) < s.opts.ReportTTL {
		return s.rep, s.repErr
	}
	ds, err := report.Load(ctx, s.db)
	var rep *report.Report
	if err == nil {
		ds.Experiments = s.opts.Experiments
		rep, err = report.Build(ds, report.Options{Logger: s.log})
	}
	s.rep, s.repErr, s.repBuilt = rep, err, s.opts.Now()
	s.repBuilds++
	if err != nil && ctx.Err() != nil {
		s.repBuilt = time.Time{} // a cancelled request does not cache its failure
	}
	return rep, err
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("write response", "err", err)
	}
}

// fail answers with a JSON error body {"error": "..."}.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code >= 500 {
		s.log.Error("request failed", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// finite drops NaN and infinities, which JSON cannot carry.
func finite(f *float64) *float64 {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) {
		return nil
	}
	v := *f
	return &v
}
