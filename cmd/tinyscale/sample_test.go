package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/store/storetest"
	"github.com/tinyscale/tinyscale/tokenizer"
)

const fixtureText = "the cat sat on the mat. the dog sat on the log.\n"

// testSnapshot is a tiny model of family over a char tokenizer of
// fixtureText with seeded random weights (zero weights when zero is set).
func testSnapshot(t *testing.T, family string, zero bool) *modelSnapshot {
	t.Helper()
	tok := tokenizer.NewChar(fixtureText)
	tj, err := tok.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := models.DefaultConfig(family)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NEmbd, cfg.NHead, cfg.NLayer, cfg.BlockSize, cfg.VocabSize = 8, 2, 2, 8, tok.VocabSize()
	rng := rand.New(rand.NewPCG(42, 0))
	_, head := models.TiedNames(family)
	var params []models.NamedTensor
	for _, s := range models.StateDict(cfg) {
		if s.Name == head && cfg.TieEmbeddings {
			continue
		}
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		data := make([]float32, n)
		if !zero {
			for i := range data {
				data[i] = float32(rng.NormFloat64() * 0.4)
			}
		}
		params = append(params, models.NamedTensor{Name: s.Name, Shape: s.Shape, Data: data})
	}
	return &modelSnapshot{run: "test/" + family, step: 7, cfg: cfg, tokenizer: tj, params: params}
}

func TestSampleText(t *testing.T) {
	for _, family := range models.Families() {
		t.Run(family, func(t *testing.T) {
			s := testSnapshot(t, family, false)
			a, err := sampleText(context.Background(), s, "the ", 20, 3.0, 0, 3)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := sampleText(context.Background(), s, "the ", 20, 3.0, 0, 3)
			c, _ := sampleText(context.Background(), s, "the ", 20, 3.0, 0, 4)
			if a != b {
				t.Errorf("same seed: %q vs %q", a, b)
			}
			if a == c {
				t.Errorf("seeds 3 and 4 gave the same 20 tokens %q", a)
			}
			if !strings.HasPrefix(a, "the ") || utf8.RuneCountInString(a) != 4+20 {
				t.Errorf("sample %q: want the prompt and 20 characters", a)
			}
			g1, _ := sampleText(context.Background(), s, "", 10, 0, 0, 1)
			g2, _ := sampleText(context.Background(), s, "", 10, 0, 0, 2)
			if g1 != g2 {
				t.Errorf("greedy depends on the seed: %q vs %q", g1, g2)
			}
		})
	}
}

// runCmd runs the binary's dispatcher.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = runMain(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

func TestModelCommandsUsageAndErrors(t *testing.T) {
	db := storetest.MustOpenDB(t)
	storetest.MustAddRun(t, db, storetest.Run("pair/silia", "h1"))
	dbPath := db.Path()
	text := t.TempDir() + "/t.txt"
	writeFile(t, text, fixtureText)
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"sample no run", []string{"sample", "--db", dbPath}, 2, "--run is required"},
		{"sample bad tokens", []string{"sample", "--db", dbPath, "--run", "x", "--tokens", "0"}, 2, "--tokens 0"},
		{"sample bad temperature", []string{"sample", "--db", dbPath, "--run", "x", "--temperature", "-1"}, 2, "--temperature -1"},
		{"sample bad top-k", []string{"sample", "--db", dbPath, "--run", "x", "--top-k", "-2"}, 2, "--top-k -2"},
		{"sample unknown flag", []string{"sample", "--nope"}, 2, "nope"},
		{"sample extra arg", []string{"sample", "--run", "x", "more"}, 2, "unexpected argument"},
		{"eval no text", []string{"eval", "--db", dbPath, "--run", "x"}, 2, "--text is required"},
		{"eval no run", []string{"eval", "--db", dbPath, "--text", text}, 2, "--run is required"},
		{"export no out", []string{"export", "--db", dbPath, "--run", "x"}, 2, "--out is required"},
		{"export bad suffix", []string{"export", "--db", dbPath, "--run", "x", "--out", "m.bin"}, 2, "must end in .safetensors"},
		{"no database", []string{"sample", "--db", t.TempDir() + "/none.db", "--run", "x"}, 1, "no results database"},
		{"unknown run", []string{"sample", "--db", dbPath, "--run", "pair/gpt2"}, 1, `no run named "pair/gpt2"`},
		{"no checkpoint", []string{"export", "--db", dbPath, "--run", "pair/silia", "--out", t.TempDir() + "/m.safetensors"}, 1, "no checkpoint yet"},
		{"eval missing text file", []string{"eval", "--db", dbPath, "--run", "pair/silia", "--text", text + ".none"}, 1, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
	for _, name := range []string{"sample", "eval", "export"} {
		if _, stderr, code := runCmd(t, name, "--help"); code != 0 || !strings.Contains(stderr, "usage: tinyscale "+name) {
			t.Errorf("%s --help: exit %d, %q", name, code, stderr)
		}
	}
}

// TestSampleStopsOnCancel: a cancelled context (Ctrl-C, SIGTERM) stops a long
// generation within about a second instead of running to the end.
func TestSampleStopsOnCancel(t *testing.T) {
	s := testSnapshot(t, "gpt2", false)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := sampleText(ctx, s, "the ", maxSampleTokens, 1, 0, 1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("sampleText after cancel: err %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopped after %v, want about 100ms", d)
	}
}

// TestSamplePromptMustBeUTF8: an invalid UTF-8 prompt is refused, as
// training and eval refuse such text.
func TestSamplePromptMustBeUTF8(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), []string{"sample", "--run", "x", "--prompt", "ok \xff"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--prompt: invalid UTF-8 at byte offset 3") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestSampleTokensLimit: --tokens beyond the limit is a usage error naming it.
func TestSampleTokensLimit(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), []string{"sample", "--run", "x", "--tokens", "10000000"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--tokens 10000000") || !strings.Contains(errb.String(), "at most 100000") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestSampleFlagValues: every out-of-range flag value is a usage error that
// names it (NaN and Inf temperatures used to sample: NaN repeated one token,
// Inf drew uniformly at random).
func TestSampleFlagValues(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--temperature", "NaN"}, "tinyscale sample: --temperature NaN: must be a finite number >= 0 (0: greedy)\n"},
		{[]string{"--temperature", "Inf"}, "tinyscale sample: --temperature +Inf: must be a finite number >= 0 (0: greedy)\n"},
		{[]string{"--temperature", "-1"}, "tinyscale sample: --temperature -1: must be a finite number >= 0 (0: greedy)\n"},
		{[]string{"--top-k", "-3"}, "tinyscale sample: --top-k -3: must be >= 0\n"},
		{[]string{"--tokens", "0"}, "tinyscale sample: --tokens 0: must be between 1 and at most 100000 (continue a longer text with --prompt)\n"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), append([]string{"sample", "--run", "x"}, tc.args...), &out, &errb)
		if code != 2 || errb.String() != tc.want {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// TestSampleProcessStopsOnSIGINT: `tinyscale sample` with the largest
// --tokens (this test binary as the child, with main's signal handling)
// exits within about a second of a SIGINT, with a message, not at the end.
func TestSampleProcessStopsOnSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	db, r, _ := trainedTinyRun(t)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		stderr := &lockedBuffer{}
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunChildProcess$")
		cmd.Env = append(os.Environ(), runChildEnv+"="+strings.Join([]string{"sample", "--db", db.Path(), "--run", r.Name,
			"--tokens", strconv.Itoa(maxSampleTokens)}, "\x1f"))
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // loading done, generating
		sent := time.Now()
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		took := time.Since(sent)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "tinyscale sample: interrupted after") {
			t.Errorf("%v: exit %v, stderr %q", sig, err, stderr.String())
		}
		if took > 1500*time.Millisecond {
			t.Errorf("%v: stopped %v after the signal", sig, took)
		}
		t.Logf("%v: stopped %v after the signal: %s", sig, took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
	}
}
