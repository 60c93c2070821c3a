package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/tinyscale/tinyscale/internal/pairkey"
)

// RunRecord is what a run is, as typed columns of the runs table: written once
// when sweeps expands the run (runner.StoreRun fills it from the sweeps.Run),
// and read by report, status and every other command instead of re-deriving
// anything from config_json or the run name.
type RunRecord struct {
	// Width is the residual-stream width d (n_embd for gpt2 and silia,
	// n_embd·n_head for gpt2-rope-swiglu and silia-xga).
	Width int
	// HeadDim is the per-head dimension hd.
	HeadDim int
	// NHead and NLayer are the number of heads and layers.
	NHead, NLayer int
	// VocabSize is the model's vocabulary size V.
	VocabSize int
	// Seed seeds weight initialisation and batch sampling.
	Seed uint64
	// LR is the peak learning rate.
	LR float64
	// PairKey is equal for the runs of one experiment that are a matched
	// pair (same sweep point, seeds apart; see sweeps.Run.PairKey). Runs
	// with equal (Experiment, PairKey, Family) differ only by seed.
	PairKey string
	// MatchBy is "params" or "flops" when the width was chosen to match a
	// target, "" when the shape was given; MatchTarget is that target.
	MatchBy     string
	MatchTarget float64
	// SweepJSON holds the swept values of the run as a JSON object of
	// strings in the YAML's spelling, keys sorted ("{}" when none).
	SweepJSON string
	// ExperimentsSHA256 is the hex SHA-256 of the experiments file the run
	// was expanded from ("" when unknown: registered before version 3).
	ExperimentsSHA256 string
	// ReferenceSource and ReferenceValLoss are the published number the
	// experiment compares this run's family with (reference: in the YAML);
	// "" and NaN when none (ReferenceValLoss is ignored without a
	// source, so a zero RunRecord has no reference). They are not part of the run's identity: a
	// registration with the same config hash updates them.
	ReferenceSource  string
	ReferenceValLoss float64
}

// recordColumns are the runs columns of RunRecord, in scan order.
const recordColumns = `width, head_dim, n_head, n_layer, vocab_size, seed, lr, pair_key,
	match_by, match_target, sweep_json, experiments_sha256, reference_source, reference_val_loss`

// args returns the values of recordColumns for an INSERT.
func (r RunRecord) args() []any {
	sw := r.SweepJSON
	if sw == "" {
		sw = "{}"
	}
	return []any{r.Width, r.HeadDim, r.NHead, r.NLayer, r.VocabSize, int64(r.Seed), r.LR, r.PairKey,
		r.MatchBy, r.MatchTarget, sw, r.ExperimentsSHA256, r.ReferenceSource, r.referenceArg()}
}

// referenceArg is the reference_val_loss value: NULL without a source.
func (r RunRecord) referenceArg() any {
	if r.ReferenceSource == "" {
		return nil
	}
	return nullFloat(r.ReferenceValLoss)
}

// recordScan holds the scan targets of recordColumns.
type recordScan struct {
	seed int64
	ref  sql.NullFloat64
}

func (s *recordScan) dests(r *RunRecord) []any {
	return []any{&r.Width, &r.HeadDim, &r.NHead, &r.NLayer, &r.VocabSize, &s.seed, &r.LR, &r.PairKey,
		&r.MatchBy, &r.MatchTarget, &r.SweepJSON, &r.ExperimentsSHA256, &r.ReferenceSource, &s.ref}
}

func (s *recordScan) finish(r *RunRecord) {
	r.Seed = uint64(s.seed)
	r.ReferenceValLoss = math.NaN()
	if s.ref.Valid {
		r.ReferenceValLoss = s.ref.Float64
	}
}

// Sweep decodes SweepJSON ("{}" or "" give an empty map).
func (r RunRecord) Sweep() (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(r.SweepJSON) == "" {
		return out, nil
	}
	if err := json.Unmarshal([]byte(r.SweepJSON), &out); err != nil {
		return nil, fmt.Errorf("sweep_json %q: %w", r.SweepJSON, err)
	}
	return out, nil
}

// ConfigRow is the part of a pre-version-3 runs row the back-fill reads.
type ConfigRow struct {
	Experiment string
	ConfigJSON []byte
}

// RecordsFromConfigJSON derives the run records of rows registered before
// the typed record existed (schema version 3) from their config_json. It is
// the only place that reads config_json for what a run is, and it runs once,
// in migration 003. Pair keys follow sweeps.Run.PairKey: the experiment and
// its swept values but the seed, plus the shape when an experiment holds two
// runs of one family at one sweep point and seed (the same family listed
// twice). ExperimentsSHA256 and the reference stay unknown.
func RecordsFromConfigJSON(rows []ConfigRow) ([]RunRecord, error) {
	type parsed struct {
		Name  string `json:"name"`
		Model struct {
			Family    string `json:"family"`
			NEmbd     int    `json:"n_embd"`
			NHead     int    `json:"n_head"`
			NLayer    int    `json:"n_layer"`
			VocabSize int    `json:"vocab_size"`
		} `json:"model"`
		Optimizer struct {
			LR float64 `json:"lr"`
		} `json:"optimizer"`
		Seed  uint64 `json:"seed"`
		Match *struct {
			By     string  `json:"by"`
			Target float64 `json:"target"`
		} `json:"match"`
		Sweep map[string]string `json:"sweep"`
	}
	ps := make([]parsed, len(rows))
	recs := make([]RunRecord, len(rows))
	for i, row := range rows {
		cfg := row.ConfigJSON
		if len(strings.TrimSpace(string(cfg))) == 0 {
			cfg = []byte("{}")
		}
		if err := json.Unmarshal(cfg, &ps[i]); err != nil {
			return nil, fmt.Errorf("config_json of a run of experiment %q: %w", row.Experiment, err)
		}
		p := ps[i]
		m := p.Model
		r := RunRecord{NHead: m.NHead, NLayer: m.NLayer, VocabSize: m.VocabSize, Seed: p.Seed,
			LR: p.Optimizer.LR, ReferenceValLoss: math.NaN()}
		r.Width, r.HeadDim = m.NEmbd, m.NEmbd
		switch m.Family {
		case "gpt2":
			r.HeadDim = 0
			if m.NHead > 0 {
				r.HeadDim = m.NEmbd / m.NHead
			}
		case "gpt2-rope-swiglu", "silia-xga":
			r.Width = m.NEmbd * m.NHead
		}
		if p.Match != nil {
			r.MatchBy, r.MatchTarget = p.Match.By, p.Match.Target
		}
		sw := p.Sweep
		if sw == nil {
			sw = map[string]string{}
		}
		b, err := json.Marshal(sw) // keys sorted
		if err != nil {
			return nil, fmt.Errorf("sweep of run %q: %w", p.Name, err)
		}
		r.SweepJSON = string(b)
		r.PairKey = pairkey.Key(row.Experiment, sw, "")
		recs[i] = r
	}
	// An experiment that lists a family twice has two runs of that family
	// at one sweep point and seed: there the shape joins the pair key.
	seen := map[string]bool{}
	repeated := map[string]bool{}
	for i, row := range rows {
		k := row.Experiment + "\x00" + ps[i].Model.Family + "\x00" + recs[i].PairKey + fmt.Sprintf("\x00%d", recs[i].Seed)
		if seen[k] {
			repeated[row.Experiment] = true
		}
		seen[k] = true
	}
	for i, row := range rows {
		if repeated[row.Experiment] {
			m := ps[i].Model
			recs[i].PairKey = pairkey.Key(row.Experiment, ps[i].Sweep, fmt.Sprintf("%dx%dx%d", m.NEmbd, m.NHead, m.NLayer))
		}
	}
	return recs, nil
}

// backfillRunRecords fills the record columns of every existing run from
// its config_json (migration 003, inside its transaction).
func backfillRunRecords(ctx context.Context, tx *sql.Tx) error {
	rs, err := tx.QueryContext(ctx, `SELECT name, experiment, config_json FROM runs ORDER BY name`)
	if err != nil {
		return fmt.Errorf("back-fill run records: %w", err)
	}
	var names []string
	var rows []ConfigRow
	for rs.Next() {
		var name, exp, cfg string
		if err := rs.Scan(&name, &exp, &cfg); err != nil {
			rs.Close()
			return fmt.Errorf("back-fill run records: %w", err)
		}
		names = append(names, name)
		rows = append(rows, ConfigRow{Experiment: exp, ConfigJSON: []byte(cfg)})
	}
	if err := rs.Close(); err != nil {
		return fmt.Errorf("back-fill run records: %w", err)
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("back-fill run records: %w", err)
	}
	recs, err := RecordsFromConfigJSON(rows)
	if err != nil {
		return fmt.Errorf("back-fill run records: %w", err)
	}
	for i, r := range recs {
		set := strings.Join(strings.Fields(strings.ReplaceAll(recordColumns, ",", " = ?,")), " ") + " = ?"
		args := append(r.args(), names[i])
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET `+set+` WHERE name = ?`, args...); err != nil {
			return fmt.Errorf("back-fill run record of %q: %w", names[i], err)
		}
	}
	return nil
}
