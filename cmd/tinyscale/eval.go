package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"unicode/utf8"
)

// evalCmd measures a run's latest checkpoint on a text file.
type evalCmd struct{ e env }

func newEvalCmd(e env) command { return evalCmd{e: e} }

// Name implements command.
func (evalCmd) Name() string { return "eval" }

// Summary implements command.
func (evalCmd) Summary() string {
	return "loss and bits per byte of a run's latest checkpoint on a text file"
}

// evalResult is the outcome of eval (also its --json output).
type evalResult struct {
	Run         string  `json:"run"`
	Step        int64   `json:"step"`
	Tokens      int     `json:"tokens"`  // predicted tokens (all but the first of the file)
	Windows     int     `json:"windows"` // block_size windows (the last may be shorter)
	BlockSize   int     `json:"block_size"`
	Bytes       int     `json:"bytes"`         // UTF-8 bytes of the file
	Loss        float64 `json:"loss"`          // mean nats per predicted token
	Perplexity  float64 `json:"perplexity"`    // exp(loss)
	BitsPerByte float64 `json:"bits_per_byte"` // total nats / ln 2 / bytes
}

// Run implements command.
func (c evalCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(c.e.stderr)
	mf := addModelFlags(fs)
	textFile := fs.String("text", "", "UTF-8 text `FILE` to evaluate on")
	asJSON := fs.Bool("json", false, "print a JSON object instead of text")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tinyscale eval --run NAME --text FILE [--db PATH] [--json]\n\n"+
			"%s: the file is tokenised with the run's tokenizer\n"+
			"and cut into consecutive, non-overlapping windows of block_size tokens (the\n"+
			"last one shorter), each predicting the token after each position. It prints\n"+
			"the mean loss per token and bits per byte = total nats / ln 2 / file bytes.\n\nflags:\n", c.Summary())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *mf.run == "":
		return usagef("--run is required")
	case *textFile == "":
		return usagef("--text is required")
	}
	text, err := os.ReadFile(*textFile)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if !utf8.Valid(text) {
		// Training refuses such text (data.Load); scoring it would count
		// replacement characters the model never saw.
		return fmt.Errorf("eval: %s: invalid UTF-8 at byte offset %d (the text must be UTF-8, as for training)", *textFile, invalidUTF8Offset(text))
	}
	interrupted := func() error { return fmt.Errorf("eval of %s interrupted: %w", *textFile, ctx.Err()) }
	snap, err := mf.load(ctx, c.e)
	if err != nil {
		if ctx.Err() != nil {
			return interrupted()
		}
		return err
	}
	res, err := evalText(ctx, snap, text, runtime.GOMAXPROCS(0))
	if err != nil {
		if ctx.Err() != nil {
			return interrupted()
		}
		return fmt.Errorf("eval %s: %w", *textFile, err)
	}
	if *asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(c.e.stdout, string(b))
		return err
	}
	_, err = fmt.Fprintf(c.e.stdout, "run %s at step %d on %s: %d tokens in %d windows of %d, %d bytes\nloss %.4f nats/token (perplexity %.3f), %.4f bits/byte\n",
		res.Run, res.Step, *textFile, res.Tokens, res.Windows, res.BlockSize, res.Bytes, res.Loss, res.Perplexity, res.BitsPerByte)
	return err
}

// evalText tokenises text with the snapshot's tokenizer and sums the loss
// over consecutive non-overlapping windows of block_size inputs (targets
// shifted by one; the last window takes what is left). Windows run on
// workers goroutines; the sum is taken in window order, so the result does
// not depend on workers.
func evalText(ctx context.Context, s *modelSnapshot, text []byte, workers int) (evalResult, error) {
	inf, tok, err := s.build()
	if err != nil {
		return evalResult{}, err
	}
	ids := tok.Encode(string(text))
	if len(ids) < 2 {
		return evalResult{}, fmt.Errorf("text has %d tokens; need at least 2", len(ids))
	}
	T := inf.Config().BlockSize
	type window struct{ lo, hi int } // inputs ids[lo:hi], targets ids[lo+1:hi+1]
	var wins []window
	for lo := 0; lo < len(ids)-1; lo += T {
		wins = append(wins, window{lo, min(lo+T, len(ids)-1)})
	}
	nats := make([]float64, len(wins))
	errs := make([]error, len(wins))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				w := wins[i]
				l, err := inf.Loss(ids[w.lo:w.hi], ids[w.lo+1:w.hi+1])
				nats[i], errs[i] = l*float64(w.hi-w.lo), err
			}
		}()
	}
feed:
	for i := range wins {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return evalResult{}, err
	}
	var total float64
	for i := range wins {
		if errs[i] != nil {
			return evalResult{}, fmt.Errorf("window %d: %w", i, errs[i])
		}
		total += nats[i]
	}
	n := len(ids) - 1
	loss := total / float64(n)
	return evalResult{
		Run: s.run, Step: s.step, Tokens: n, Windows: len(wins), BlockSize: T, Bytes: len(text),
		Loss: loss, Perplexity: math.Exp(loss), BitsPerByte: total / math.Ln2 / float64(len(text)),
	}, nil
}

// invalidUTF8Offset is the byte offset of the first invalid UTF-8 sequence
// in b (len(b) if there is none).
func invalidUTF8Offset(b []byte) int {
	off := 0
	for off < len(b) {
		r, size := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && size <= 1 {
			return off
		}
		off += size
	}
	return off
}
