package runner

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/models"
	"github.com/tinyscale/tinyscale/sweeps"
)

// Sampling settings of the samples stored at every eval (nanoGPT's defaults).
const (
	sampleTemperature = 0.8
	sampleTopK        = 200
)

// taskExamples is the number of task examples scored per accuracy eval; the
// same examples (fixed seed) at every eval and in every run.
const taskExamples = 64

// Wire sets opts' model, data and sampling hooks to the real packages:
// models.NewTrainer (gorgonia), data.Prepare with cacheDir, and
// models.Generate on models.NewInference.
func (o *Options) Wire(cacheDir string) {
	o.NewModel = NewTrainerModel
	o.Data = PrepareData(cacheDir)
	o.Generate = GenerateSample
}

// trainerModel adapts *models.Trainer to Model.
type trainerModel struct {
	t      *models.Trainer
	params []Param
}

// NewTrainerModel builds the gorgonia training graph of cfg.
func NewTrainerModel(cfg models.Config, batch int, seed uint64) (Model, error) {
	t, err := models.NewTrainer(cfg, batch, seed)
	if err != nil {
		return nil, err
	}
	m := &trainerModel{t: t}
	for _, p := range t.Params() {
		var k Kind
		switch p.Kind {
		case models.Matrix:
			k = Matrix
		case models.Embedding:
			k = Embedding
		case models.Vector:
			k = Vector
		default:
			return nil, fmt.Errorf("parameter %s: unknown kind %v", p.Name, p.Kind)
		}
		m.params = append(m.params, Param{Name: p.Name, Shape: p.Shape, Kind: k, Value: p.Value, Grad: p.Grad})
	}
	return m, nil
}

// Params implements Model.
func (m *trainerModel) Params() []Param { return m.params }

// Step implements Model.
func (m *trainerModel) Step(in, tg []int32) (float32, error) { return m.t.Step(in, tg) }

// Loss implements Model.
func (m *trainerModel) Loss(in, tg []int32) (float32, error) { return m.t.Loss(in, tg) }

// SetMicroStep implements MicroStepSetter (the dropout mask counter).
func (m *trainerModel) SetMicroStep(n uint64) { m.t.SetStep(n) }

// PrepareData returns a DataFunc backed by data.Prepare (tokenised splits
// cached in cacheDir).
func PrepareData(cacheDir string) DataFunc {
	return func(ctx context.Context, r sweeps.Run) (*Dataset, error) {
		p, err := data.Prepare(ctx, r.Data, r.Tokenizer, cacheDir)
		if err != nil {
			return nil, err
		}
		if v := p.Tokenizer.VocabSize(); v > r.Model.VocabSize {
			return nil, fmt.Errorf("tokenizer has %d tokens but the run's model was resolved with vocab_size %d", v, r.Model.VocabSize)
		}
		tj, err := p.Tokenizer.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("tokenizer JSON: %w", err)
		}
		ds := &Dataset{Train: p.Train, Val: p.Val, BytesPerToken: p.BytesPerToken, TokenizerJSON: tj, Decode: p.Tokenizer.Decode}
		if p.Task != nil {
			ds.Accuracy = taskAccuracy(p.Task, r)
		}
		return ds, nil
	}
}

// taskAccuracy scores a fixed set of task examples (same seed every eval)
// by greedy next-token prediction with the plain-Go inference model.
func taskAccuracy(task data.Task, r sweeps.Run) func(context.Context, []models.NamedTensor) (map[string]float64, error) {
	return func(ctx context.Context, w []models.NamedTensor) (map[string]float64, error) {
		inf, err := models.NewInference(r.Model, w)
		if err != nil {
			return nil, err
		}
		var exs []data.Example
		for _, ex := range task.Examples("val", taskExamples, rand.New(rand.NewPCG(r.Seed, 0x7461736b))) {
			// Learned positions cannot run past block_size; RoPE models can.
			if r.Model.RoPE || len(ex.Input) <= r.BlockSize {
				exs = append(exs, ex)
			}
		}
		if len(exs) == 0 {
			return nil, fmt.Errorf("%s: no example fits block_size %d", task.Name(), r.BlockSize)
		}
		acc, err := data.Score(exs, func(in []int32) ([]int32, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			logits, err := inf.Logits(in)
			if err != nil {
				return nil, err
			}
			out := make([]int32, len(logits))
			for i, row := range logits {
				best := 0
				for j, v := range row {
					if v > row[best] {
						best = j
					}
				}
				out[i] = int32(best)
			}
			return out, nil
		})
		if err != nil {
			return nil, err
		}
		return map[string]float64{task.Name(): acc.Token(), task.Name() + "_exact": acc.ExactMatch()}, nil
	}
}

// GenerateSample samples n tokens with models.Generate (temperature 0.8,
// top-k 200) from a PCG seeded with seed.
func GenerateSample(cfg models.Config, w []models.NamedTensor, prompt []int32, n int, seed uint64) ([]int32, error) {
	inf, err := models.NewInference(cfg, w)
	if err != nil {
		return nil, err
	}
	out := models.Generate(inf, prompt, n, sampleTemperature, sampleTopK, rand.New(rand.NewPCG(seed, 0x73616d70)))
	if out == nil {
		return nil, fmt.Errorf("generate: prompt outside the vocabulary")
	}
	return out, nil
}
