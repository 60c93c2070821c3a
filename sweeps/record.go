package sweeps

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Reference is the published numbers an experiment is compared with
// (reference: in the YAML). It is not part of any run's configuration: adding
// or changing it changes no run hash.
type Reference struct {
	// Source says where the numbers come from, e.g. "Silia paper v1, table 2".
	Source string
	// ValLoss is the published final validation loss by family.
	ValLoss map[string]float64
}

// parseReference reads an experiment's reference: {source: "...",
// val_loss: {family: loss, ...}}; every family must be one the experiment
// trains.
func (f *File) parseReference(e *experiment, n *yaml.Node) (*Reference, error) {
	d := &f.dec
	what := "experiment " + e.name + ": reference"
	ps, err := d.pairs(n, what)
	if err != nil {
		return nil, err
	}
	ref := &Reference{ValLoss: map[string]float64{}}
	var lossN *yaml.Node
	for _, p := range ps {
		switch p.key {
		case "source":
			if ref.Source, err = d.str(p.v, what+": source"); err != nil {
				return nil, err
			}
			if strings.TrimSpace(ref.Source) == "" {
				return nil, d.errf(p.v, "%s: source: say where the numbers come from (e.g. \"Silia paper v1, table 2\")", what)
			}
		case "val_loss":
			lossN = p.v
			lps, err := d.pairs(p.v, what+": val_loss")
			if err != nil {
				return nil, err
			}
			var fams []string
			for _, en := range e.entries {
				if !slices.Contains(fams, en.family) {
					fams = append(fams, en.family)
				}
			}
			for _, lp := range lps {
				if !slices.Contains(fams, lp.key) {
					return nil, d.errf(lp.k, "%s: val_loss: family %q is not trained by the experiment (it trains: %s)", what, lp.key, strings.Join(fams, ", "))
				}
				v, err := d.floatIn(lp.v, what+": val_loss: "+lp.key, 0, math.Inf(1), true, true)
				if err != nil {
					return nil, err
				}
				ref.ValLoss[lp.key] = v
			}
		default:
			return nil, d.unknownKey(p, what, []string{"source", "val_loss"})
		}
	}
	if ref.Source == "" {
		return nil, d.errf(n, "%s: no source: say where the numbers come from", what)
	}
	if len(ref.ValLoss) == 0 {
		if lossN == nil {
			lossN = n
		}
		return nil, d.errf(lossN, "%s: no val_loss: give the published final validation loss per family, e.g. {silia: 1.48}", what)
	}
	return ref, nil
}

// SweepJSON is the run's swept values as a JSON object, keys sorted ("{}"
// when nothing is swept).
func (r Run) SweepJSON() string {
	m := r.Sweep
	if m == nil {
		m = map[string]string{}
	}
	b, err := json.Marshal(m)
	if err != nil { // a map of strings always marshals
		panic(fmt.Sprintf("sweeps: marshal sweep of %s: %v", r.Name, err))
	}
	return string(b)
}

// ReferenceValLoss returns the published validation loss of the run's family
// and its source, when the experiment declares one.
func (r Run) ReferenceValLoss() (source string, loss float64, ok bool) {
	if r.Reference == nil {
		return "", math.NaN(), false
	}
	v, ok := r.Reference.ValLoss[r.Family]
	if !ok {
		return "", math.NaN(), false
	}
	return r.Reference.Source, v, true
}

// Header is what commands other than plan and run need of an experiments
// file: its db key and the experiment names in file order.
type Header struct {
	DB          string
	Experiments []string
}

// ReadHeader reads only the db key and the experiments' names of the file at
// path, without checking the rest (status and report must work while the
// file is being edited). A missing file gives an error matching
// fs.ErrNotExist.
func ReadHeader(path string) (Header, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Header{}, fmt.Errorf("read experiments file: %w", err)
	}
	var top struct {
		DB          string `yaml:"db"`
		Experiments []struct {
			Name string `yaml:"name"`
		} `yaml:"experiments"`
	}
	if err := yaml.Unmarshal(b, &top); err != nil {
		return Header{}, yamlError(path, err, b)
	}
	h := Header{DB: top.DB}
	for _, e := range top.Experiments {
		if e.Name != "" {
			h.Experiments = append(h.Experiments, e.Name)
		}
	}
	return h, nil
}
