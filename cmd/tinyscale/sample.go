package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"unicode/utf8"

	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/runner"
	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/tokenizer"
)

// modelSnapshot is what sample, eval and export need from a run's newest
// durable checkpoint.
type modelSnapshot struct {
	run       string
	step      int64
	cfg       models.Config
	tokenizer json.RawMessage
	params    []models.NamedTensor
}

// modelFlags are the flags shared by sample, eval and export.
type modelFlags struct {
	db, file, run *string
}

func addModelFlags(fs *flag.FlagSet) modelFlags {
	return modelFlags{
		db:   fs.String("db", "", "results database `PATH` (default: the db key of -f, else "+defaultDBFile+")"),
		file: fs.String("f", defaultExperimentsFile, "experiments `FILE`, read only for its db key"),
		run:  fs.String("run", "", "run `NAME` (see tinyscale status)"),
	}
}

// load opens the database read-only and returns the run's latest checkpoint.
func (m modelFlags) load(ctx context.Context, e env) (*modelSnapshot, error) {
	path, err := resolveDBPath(*m.db, *m.file)
	if err != nil {
		return nil, err
	}
	db, err := store.OpenReadOnly(path, store.WithLogger(e.log))
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, fmt.Errorf("no results database at %s (run `tinyscale run` first)", path)
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.GetRun(ctx, *m.run); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no run named %q in %s (see tinyscale status)", *m.run, path)
	} else if err != nil {
		return nil, err
	}
	snap, err := runner.LoadLatest(ctx, db, *m.run)
	if errors.Is(err, runner.ErrNoCheckpoint) {
		return nil, fmt.Errorf("run %q has no checkpoint yet (it is written every checkpoint.every steps and at the end): %w", *m.run, err)
	}
	if err != nil {
		return nil, err
	}
	cfg := snap.Run.Model
	if cfg.BlockSize == 0 {
		cfg.BlockSize = snap.Run.BlockSize
	}
	return &modelSnapshot{run: *m.run, step: snap.Step, cfg: cfg, tokenizer: snap.Tokenizer, params: snap.Params}, nil
}

// build returns the snapshot's reference model and tokenizer.
func (s *modelSnapshot) build() (*models.Inference, tokenizer.Tokenizer, error) {
	tok, err := tokenizer.FromJSON(s.tokenizer)
	if err != nil {
		return nil, nil, fmt.Errorf("run %s: %w", s.run, err)
	}
	cfg := s.cfg
	if cfg.VocabSize == 0 {
		cfg.VocabSize = tok.VocabSize()
	}
	if cfg.VocabSize < tok.VocabSize() {
		return nil, nil, fmt.Errorf("run %s: model vocabulary %d is smaller than the tokenizer's %d", s.run, cfg.VocabSize, tok.VocabSize())
	}
	inf, err := models.NewInference(cfg, s.params)
	if err != nil {
		return nil, nil, fmt.Errorf("run %s: %w", s.run, err)
	}
	return inf, tok, nil
}

// maxSampleTokens bounds --tokens: a RoPE model keeps its whole context, so
// the cost of each new token grows with the text; 100k tokens of a tiny
// model take minutes already.
const maxSampleTokens = 100000

// sampleCmd generates text from a run's latest checkpoint.
type sampleCmd struct{ e env }

func newSampleCmd(e env) command { return sampleCmd{e: e} }

// Name implements command.
func (sampleCmd) Name() string { return "sample" }

// Summary implements command.
func (sampleCmd) Summary() string { return "generate text from a run's latest checkpoint" }

// Run implements command.
func (c sampleCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	mf := addModelFlags(fs)
	prompt := fs.String("prompt", "", "`TEXT` to continue (default: a newline)")
	n := fs.Int("tokens", 200, "number of tokens `N` to generate")
	temp := fs.Float64("temperature", 0.8, "sampling temperature `T` (0: greedy)")
	topK := fs.Int("top-k", 0, "sample among the `K` most likely tokens (0: all)")
	seed := fs.Uint64("seed", 1, "random `SEED`; the same seed gives the same text")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale sample --run NAME [--db PATH] [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed S]\n\n"+
			"%s. Models with learned positions see at most block_size tokens of context;\n"+
			"RoPE models keep the whole text, beyond their training length.\n\nflags:\n", c.Summary())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *mf.run == "":
		return usagef("--run is required")
	case *n <= 0 || *n > maxSampleTokens:
		return usagef("--tokens %d: must be between 1 and at most %d (continue a longer text with --prompt)", *n, maxSampleTokens)
	case !(*temp >= 0) || math.IsInf(*temp, 1):
		return usagef("--temperature %g: must be a finite number >= 0 (0: greedy)", *temp)
	case *topK < 0:
		return usagef("--top-k %d: must be >= 0", *topK)
	case !utf8.ValidString(*prompt):
		return usagef("--prompt: invalid UTF-8 at byte offset %d (models are trained on UTF-8 text)", invalidUTF8Offset([]byte(*prompt)))
	}
	snap, err := mf.load(ctx, c.e)
	if err != nil {
		return err
	}
	text, err := sampleText(ctx, snap, *prompt, *n, *temp, *topK, *seed)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.e.stdout, text)
	return err
}

// sampleText returns the prompt followed by n generated tokens, decoded.
// An empty prompt starts from a newline (or token 0 if the tokenizer cannot
// encode one).
func sampleText(ctx context.Context, s *modelSnapshot, prompt string, n int, temperature float64, topK int, seed uint64) (string, error) {
	inf, tok, err := s.build()
	if err != nil {
		return "", err
	}
	ids := tok.Encode(prompt)
	if prompt == "" {
		ids = tok.Encode("\n")
	}
	for _, id := range ids {
		if int(id) >= inf.Config().VocabSize {
			return "", fmt.Errorf("prompt token %d is outside the model's vocabulary of %d", id, inf.Config().VocabSize)
		}
	}
	out, err := models.GenerateContext(ctx, inf, ids, n, temperature, topK, rand.New(rand.NewPCG(seed, 0x73616d70))) // "samp"
	if err != nil {
		return "", fmt.Errorf("interrupted after %d of %d tokens; nothing printed: %w", len(out), n, err)
	}
	return prompt + tok.Decode(out), nil
}
