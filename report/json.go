package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// JSONSchema names the layout of report.json (documented in docs/report.md);
// it changes only when a field changes meaning or goes away.
const JSONSchema = "tinyscale-report/1"

// num is a float that JSON writes as null when it is NaN or infinite.
type num float64

// MarshalJSON implements json.Marshaler.
func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// jsonInterval is a mean with its 95% interval (bounds null when there is none).
type jsonInterval struct {
	Mean num `json:"mean"`
	Lo   num `json:"ci95_lo"`
	Hi   num `json:"ci95_hi"`
	N    int `json:"n"`
}

func toJSONInterval(iv Interval) jsonInterval {
	return jsonInterval{Mean: num(iv.Mean), Lo: num(iv.Lo), Hi: num(iv.Hi), N: iv.N}
}

type jsonShape struct {
	Width   int `json:"width"`
	HeadDim int `json:"head_dim"`
	NHead   int `json:"n_head"`
	NLayer  int `json:"n_layer"`
}

func shapeOf(r *RunData) jsonShape {
	return jsonShape{Width: r.Width, HeadDim: r.HeadDim, NHead: r.NHead, NLayer: r.NLayer}
}

type jsonConfig struct {
	Family             string       `json:"family"`
	PairKey            string       `json:"pair_key"`
	Shape              jsonShape    `json:"shape"`
	LR                 num          `json:"lr"`
	ParamsTotal        int64        `json:"params_total"`
	ParamsNonEmbedding int64        `json:"params_non_embedding"`
	Runs               int          `json:"runs"`
	Seeds              []uint64     `json:"seeds_finished"`
	ValLoss            jsonInterval `json:"val_loss"`
	ValLossStd         num          `json:"val_loss_std"`
	Status             string       `json:"status"`
}

type jsonPairSide struct {
	Family      string    `json:"family"`
	Shape       jsonShape `json:"shape"`
	ParamsTotal int64     `json:"params_total"`
	ValLoss     []num     `json:"val_loss_by_seed"`
}

type jsonPair struct {
	PairKey   string       `json:"pair_key"`
	Baseline  jsonPairSide `json:"baseline"`
	Candidate jsonPairSide `json:"candidate"`
	Seeds     []uint64     `json:"seeds"`
	Delta     jsonInterval `json:"delta_val_loss"`
	Verdict   string       `json:"verdict"`
}

type jsonPoint struct {
	Params  num          `json:"params"`
	ValLoss jsonInterval `json:"val_loss"`
	// BestOf is the number of configurations (e.g. learning rates) the
	// point is the best of at its size (1: no selection).
	BestOf int `json:"best_of"`
}

type jsonFit struct {
	Family string      `json:"family"`
	Points []jsonPoint `json:"points"`
	Fitted bool        `json:"fitted"`
	A      num         `json:"a"`
	B      num         `json:"b"`
	C      num         `json:"c"`
	DOF    int         `json:"dof"`
	SSE    num         `json:"sse"`
	RMSE   num         `json:"rmse"`
	NMin   num         `json:"n_min"`
	NMax   num         `json:"n_max"`
	Usable bool        `json:"usable"`
	Reason string      `json:"reason,omitempty"`
}

type jsonRate struct {
	Candidate        string `json:"candidate"`
	Baseline         string `json:"baseline"`
	CandidateParams  num    `json:"candidate_params"`
	CandidateValLoss num    `json:"candidate_val_loss"`
	BaselineParams   num    `json:"baseline_params"`
	BelowAsymptote   bool   `json:"below_asymptote"`
	Rate             num    `json:"rate"`
	Lo               num    `json:"ci95_lo"`
	Hi               num    `json:"ci95_hi"`
	NoInterval       string `json:"no_interval,omitempty"`
	Replicates       int    `json:"bootstrap_replicates"`
	Failed           int    `json:"bootstrap_failed"`
	Paired           bool   `json:"bootstrap_paired"`
	Extrapolated     bool   `json:"extrapolated"`
}

type jsonScaling struct {
	Parameters string     `json:"parameters"`
	Fits       []jsonFit  `json:"fits"`
	Rates      []jsonRate `json:"exchange_rates"`
}

type jsonClaim struct {
	Family    string       `json:"family"`
	PairKey   string       `json:"pair_key"`
	Shape     jsonShape    `json:"shape"`
	Source    string       `json:"source"`
	Published num          `json:"published_val_loss"`
	Measured  jsonInterval `json:"measured_val_loss"`
	Verdict   string       `json:"verdict"`
}

type jsonExperiment struct {
	Name           string        `json:"name"`
	Configurations []jsonConfig  `json:"configurations"`
	Pairs          []jsonPair    `json:"pairs"`
	Scaling        []jsonScaling `json:"scaling"`
	Claims         []jsonClaim   `json:"claims"`
}

type jsonRun struct {
	Name              string    `json:"name"`
	Experiment        string    `json:"experiment"`
	Family            string    `json:"family"`
	PairKey           string    `json:"pair_key"`
	Seed              uint64    `json:"seed"`
	LR                num       `json:"lr"`
	Shape             jsonShape `json:"shape"`
	VocabSize         int       `json:"vocab_size"`
	MatchBy           string    `json:"match_by"`
	MatchTarget       num       `json:"match_target"`
	ParamsTotal       int64     `json:"params_total"`
	ParamsNonEmb      int64     `json:"params_non_embedding"`
	FlopsPerToken     int64     `json:"flops_per_token"`
	ConfigHash        string    `json:"config_hash"`
	ExperimentsSHA256 string    `json:"experiments_sha256"`
	Status            string    `json:"status"`
	Step              int64     `json:"step"`
	StepsTotal        int64     `json:"steps_total"`
	FinalValLoss      num       `json:"final_val_loss"`
	FinalValSplit     string    `json:"final_val_split"`
	FinalValStep      int64     `json:"final_val_step"`
	FinalValBPB       num       `json:"final_val_bpb"`
	FinalTrainLoss    num       `json:"final_train_loss"`
	Tokens            int64     `json:"tokens_trained"`
	Flops             num       `json:"flops_trained"`
	WallS             num       `json:"wall_s"`
	Nonreproducible   bool      `json:"nonreproducible"`
}

type jsonMethods struct {
	FinalValLoss  string `json:"final_val_loss"`
	ValLossCI     string `json:"val_loss_interval"`
	PairDeltaCI   string `json:"pair_delta_interval"`
	PowerLawFit   string `json:"power_law_fit"`
	ExchangeRate  string `json:"exchange_rate"`
	ExchangeCI    string `json:"exchange_rate_interval"`
	SizeSelection string `json:"size_selection"`
}

type jsonReport struct {
	Schema          string           `json:"schema"`
	ConfidenceLevel float64          `json:"confidence_level"`
	Methods         jsonMethods      `json:"methods"`
	Headlines       []string         `json:"headlines"`
	Warnings        []string         `json:"warnings"`
	Experiments     []jsonExperiment `json:"experiments"`
	Runs            []jsonRun        `json:"runs"`
}

// reportJSON is report.json: every number the report states, for users who
// build their own tables (schema in docs/report.md). Keys are in a fixed
// order and floats in shortest round-trip form, so it is byte-identical
// from run to run.
func (a *analysis) reportJSON(heads, warnings []string) ([]byte, error) {
	jr := jsonReport{
		Schema: JSONSchema, ConfidenceLevel: ConfidenceLevel,
		Methods: jsonMethods{
			FinalValLoss: "the run's last 'final_val' evaluation, else its last 'val' one (final_val_split says which)",
			ValLossCI:    "Student's t-interval of the mean over finished seeds (n - 1 degrees of freedom; null with n = 1)",
			PairDeltaCI:  "paired t-interval of the per-seed differences candidate - baseline over the seeds both finished",
			PowerLawFit:  "L(N) = a*N^-b + c fitted to the size means; " + PowerLawMethod + "; dof = points - 3; rmse = sqrt(sse/points); a fit with dof < 1 is not usable",
			ExchangeRate: "baseline size at the candidate's mean loss on the baseline fit, divided by the candidate's size",
			ExchangeCI: fmt.Sprintf("percentile bootstrap over seeds: %d resamples, each drawing seeds with replacement (jointly for all points "+
				"when they finished the same seeds, bootstrap_paired; else per point), refitting the baseline on the resampled means and "+
				"recomputing the rate; a fixed generator seed makes it reproducible", BootstrapReplicates),
			SizeSelection: "at each size the configuration with the lowest mean final validation loss (best_of > 1: a best-of over the sweep, selected on the reported split)",
		},
		Headlines: nonNil(heads), Warnings: nonNil(warnings),
		Experiments: []jsonExperiment{}, Runs: []jsonRun{},
	}
	claims := a.claims()
	for _, e := range a.experiments {
		je := jsonExperiment{Name: e, Configurations: []jsonConfig{}, Pairs: []jsonPair{}, Scaling: []jsonScaling{}, Claims: []jsonClaim{}}
		for _, g := range a.groups[e] {
			vals, seeds := g.finalValsAndSeeds()
			iv, _ := TInterval(vals, ConfidenceLevel)
			je.Configurations = append(je.Configurations, jsonConfig{
				Family: g.family, PairKey: g.pairKey, Shape: shapeOf(g.rec), LR: num(g.rec.LR),
				ParamsTotal: g.paramsTot, ParamsNonEmbedding: g.paramsNE, Runs: len(g.runs), Seeds: nonNilU(seeds),
				ValLoss: toJSONInterval(iv), ValLossStd: num(Std(vals)), Status: g.status(),
			})
		}
		prs, err := a.pairResults(e)
		if err != nil {
			return nil, err
		}
		for _, r := range prs {
			je.Pairs = append(je.Pairs, jsonPair{
				PairKey:   r.key,
				Baseline:  jsonPairSide{Family: r.base.family, Shape: shapeOf(r.base.rec), ParamsTotal: r.base.paramsTot, ValLoss: nums(r.baseLoss)},
				Candidate: jsonPairSide{Family: r.cand.family, Shape: shapeOf(r.cand.rec), ParamsTotal: r.cand.paramsTot, ValLoss: nums(r.candLoss)},
				Seeds:     nonNilU(r.seeds), Delta: toJSONInterval(r.delta), Verdict: r.verdict,
			})
		}
		for _, kind := range []string{"total", "non_embedding"} {
			s := a.scaling(e, kind)
			if len(s.families) == 0 {
				continue
			}
			js := jsonScaling{Parameters: kind, Fits: []jsonFit{}, Rates: []jsonRate{}}
			for _, f := range s.families {
				ff := s.fits[f]
				jf := jsonFit{Family: f, Points: []jsonPoint{}, Fitted: ff.err == nil, Usable: ff.usable(), Reason: ff.why(),
					A: num(math.NaN()), B: num(math.NaN()), C: num(math.NaN()), SSE: num(math.NaN()), RMSE: num(math.NaN()),
					NMin: num(math.NaN()), NMax: num(math.NaN()), DOF: len(ff.pts) - 3}
				for _, p := range ff.pts {
					jf.Points = append(jf.Points, jsonPoint{Params: num(p.params), ValLoss: toJSONInterval(p.iv), BestOf: p.choices})
				}
				if ff.err == nil {
					l := ff.law
					jf.A, jf.B, jf.C, jf.DOF, jf.SSE, jf.RMSE, jf.NMin, jf.NMax = num(l.A), num(l.B), num(l.C), l.DOF, num(l.SSE), num(l.RMSE), num(l.NMin), num(l.NMax)
				}
				js.Fits = append(js.Fits, jf)
			}
			for _, cand := range s.families {
				for _, base := range s.families {
					for _, r := range s.rates[cand+"\x00"+base] {
						js.Rates = append(js.Rates, jsonRate{
							Candidate: cand, Baseline: base, CandidateParams: num(r.candParams), CandidateValLoss: num(r.candLoss),
							BaselineParams: num(r.baseParams), BelowAsymptote: math.IsInf(r.baseParams, 1), Rate: num(r.rate),
							Lo: num(r.lo), Hi: num(r.hi), NoInterval: r.noInterval, Replicates: r.replicates, Failed: r.failed, Paired: r.paired,
							Extrapolated: r.extrapolated,
						})
					}
				}
			}
			je.Scaling = append(je.Scaling, js)
		}
		for _, c := range claims {
			if c.experiment != e {
				continue
			}
			je.Claims = append(je.Claims, jsonClaim{Family: c.family, PairKey: c.g.pairKey, Shape: shapeOf(c.g.rec), Source: c.source,
				Published: num(c.published), Measured: toJSONInterval(c.measured), Verdict: c.verdict})
		}
		jr.Experiments = append(jr.Experiments, je)
	}
	for _, r := range a.runs {
		jrun := jsonRun{
			Name: r.Name, Experiment: r.Experiment, Family: r.Family, PairKey: r.PairKey, Seed: r.Seed, LR: num(r.LR),
			Shape: shapeOf(r.RunData), VocabSize: r.VocabSize, MatchBy: r.MatchBy, MatchTarget: num(r.MatchTarget),
			ParamsTotal: r.ParamsTotal, ParamsNonEmb: r.ParamsNonEmbedding, FlopsPerToken: r.FlopsPerToken,
			ConfigHash: r.ConfigHash, ExperimentsSHA256: r.ExperimentsSHA256, Status: r.Status, Step: r.Step,
			StepsTotal: r.StepsTotal, FinalValLoss: num(math.NaN()), FinalValBPB: num(math.NaN()),
			FinalTrainLoss: num(r.finalTrainLoss()), Flops: num(math.NaN()), WallS: num(math.NaN()),
			Nonreproducible: r.Nonreproducible,
		}
		if e, ok := r.finalVal(); ok {
			jrun.FinalValLoss, jrun.FinalValSplit, jrun.FinalValStep, jrun.FinalValBPB = num(e.Loss), e.Split, e.Step, num(e.BPB)
		}
		if s, ok := r.lastStep(); ok {
			jrun.Tokens, jrun.Flops = s.Tokens, num(s.Flops)
			if s.ElapsedS > 0 {
				jrun.WallS = num(s.ElapsedS)
			}
		}
		jr.Runs = append(jr.Runs, jrun)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jr); err != nil {
		return nil, fmt.Errorf("report.json: %w", err)
	}
	return b.Bytes(), nil
}

func nums(xs []float64) []num {
	out := make([]num, len(xs))
	for i, x := range xs {
		out[i] = num(x)
	}
	return out
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func nonNilU(xs []uint64) []uint64 {
	if xs == nil {
		return []uint64{}
	}
	return xs
}
