package models

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
)

// Generate samples n tokens after prompt and returns them (without the
// prompt). An empty prompt starts from token 0.
//
// temperature <= 0 is greedy decoding (argmax, lowest id on ties); otherwise
// logits are divided by temperature and, when 0 < topK < VocabSize, only the
// tokens whose logit is at least the topK-th largest are kept (nanoGPT's
// rule). Sampling draws from rng, so a seeded rng gives the same tokens.
//
// Context: models with learned positions see at most the last BlockSize
// tokens (nanoGPT's cropping; once the context is full every new token costs
// a full forward of the window). RoPE models keep the whole context and so
// run beyond their training length when prompt+n exceeds BlockSize; quality
// there is whatever the model extrapolates to.
//
// Generate returns nil if n <= 0 or a prompt token is outside the vocabulary.
func Generate(inf *Inference, prompt []int32, n int, temperature float64, topK int, rng *rand.Rand) []int32 {
	out, _ := GenerateContext(context.Background(), inf, prompt, n, temperature, topK, rng)
	return out
}

// GenerateContext is Generate that stops when ctx is done: it checks ctx
// before every token and returns the tokens generated so far with ctx's
// error.
func GenerateContext(ctx context.Context, inf *Inference, prompt []int32, n int, temperature float64, topK int, rng *rand.Rand) ([]int32, error) {
	if n <= 0 {
		return nil, nil
	}
	seq := append([]int32(nil), prompt...)
	if len(seq) == 0 {
		seq = []int32{0}
	}
	for _, t := range seq {
		if t < 0 || int(t) >= inf.cfg.VocabSize {
			return nil, nil
		}
	}
	block := inf.cfg.BlockSize
	learned := inf.pos != nil
	dc := inf.newDecoder()
	start := 0
	if learned && len(seq) > block {
		start = len(seq) - block
	}
	rows := dc.forward(seq[start:])
	logits := rows[len(rows)-1]
	out := make([]int32, 0, n)
	for {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		next := sampleToken(logits, temperature, topK, rng)
		out = append(out, next)
		seq = append(seq, next)
		if len(out) == n {
			return out, nil
		}
		if learned && dc.pos == block {
			// Window full: recompute on the last block tokens.
			dc = inf.newDecoder()
			rows := dc.forward(seq[len(seq)-block:])
			logits = rows[len(rows)-1]
			continue
		}
		logits = dc.forward([]int32{next})[0]
	}
}

// sampleToken picks a token from logits (see Generate).
func sampleToken(logits []float64, temperature float64, topK int, rng *rand.Rand) int32 {
	if temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	threshold := math.Inf(-1)
	if topK > 0 && topK < len(logits) {
		s := append([]float64(nil), logits...)
		sort.Float64s(s)
		threshold = s[len(s)-topK]
	}
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, v)
	}
	p := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		if v >= threshold {
			p[i] = math.Exp((v - mx) / temperature)
			sum += p[i]
		}
	}
	r := rng.Float64() * sum
	last := 0
	for i, w := range p {
		if w == 0 {
			continue
		}
		last = i
		if r < w {
			return int32(i)
		}
		r -= w
	}
	return int32(last) // rounding: the last kept token
}
