// Package sweeps reads an experiments file (experiments.yaml), validates it
// strictly and expands its sweeps into concrete, fully resolved runs.
//
// A file has a db key, defaults inherited by every experiment, named
// datasets, and a list of experiments. Each experiment lists model families
// (models: or pair:), may override any default, and sweeps a grid (sweep:)
// and zipped lists (zip:) of dotted keys. match: params or match: flops
// sizes every family to each target. See docs/experiments.md for the
// reference; every problem is reported with file:line and the allowed values.
package sweeps

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tinyscale/tinyscale/data"
	"github.com/tinyscale/tinyscale/models"
)

// File is a parsed and checked experiments file, ready to Expand.
type File struct {
	// Path is the file name given to Load or Parse.
	Path string
	// DB is the results database named by the db key ("" when absent).
	DB string
	// SHA256 is the hex SHA-256 of the file's bytes; every run expanded
	// from it records it (Run.ExperimentsSHA256).
	SHA256 string

	dec      dec
	dir      string // relative dataset paths are relative to this
	datasets map[string]*dataset
	exps     []*experiment
}

// dataset is one entry of datasets: (or the built-in stories dataset).
type dataset struct {
	spec data.Spec
	node *yaml.Node            // nil for the built-in
	keys map[string]*yaml.Node // value node of each key, for errors about one field
}

// experiment is one parsed entry of experiments:.
type experiment struct {
	name    string
	node    *yaml.Node
	base    settings // built-ins + defaults: + the experiment's own keys
	entries []entry
	match   string
	matchN  *yaml.Node
	axes    []axis
	ref     *Reference // published numbers (reference:), nil when none
}

// entry is one model of an experiment.
type entry struct {
	family string
	node   *yaml.Node // the mapping, or the scalar family name
}

// axis is one dimension of the sweep grid: a sweep key, or a zip group whose
// keys vary together. values[i] holds the nodes of point i, one per key.
type axis struct {
	keys     []string
	keyNodes []*yaml.Node
	values   [][]*yaml.Node
}

var (
	topKeys = []string{"db", "defaults", "datasets", "experiments"}
	// nameRE is what experiment and dataset names may contain: they appear
	// in run names and file names.
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	datasetKeys = []string{"kind", "generator", "path", "field", "tokens", "val_fraction", "seed", "split", "groups"}
	matchKinds  = []string{"params", "flops"}
	pathKinds   = []string{data.KindText, data.KindJSONL, data.KindNanoGPT, data.KindLLMC, data.KindParquet, data.KindEmail}
)

// emptyDocument reports whether a decoded document holds nothing (no node,
// or a single null scalar).
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return len(doc.Content) == 1 && n.Kind == yaml.ScalarNode && n.Tag == "!!null" && (n.Value == "" || n.Value == "~" || n.Value == "null")
}

// separatorLine returns the line of the "---" that starts the document
// whose first node is on line (1-based), or line if there is none before it.
func separatorLine(src []byte, line int) int {
	lines := strings.Split(string(src), "\n")
	for i := min(line, len(lines)) - 1; i >= 0; i-- {
		if l := strings.TrimRight(lines[i], " \t\r"); l == "---" || strings.HasPrefix(l, "--- ") {
			return i + 1
		}
	}
	return line
}

// maxFileBytes bounds the size of an experiments file, read whole into
// memory and parsed into nodes.
const maxFileBytes = 16 << 20

// Load reads and checks the experiments file at path. Dataset paths are
// relative to the file's directory.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load experiments: %w", err)
	}
	f, err := Parse(path, b)
	if err != nil {
		return nil, err
	}
	f.dir = filepath.Dir(path)
	return f, nil
}

// Parse checks an experiments file held in memory; name is used in errors.
// Dataset paths are relative to the working directory.
func Parse(name string, src []byte) (*File, error) {
	sum := sha256.Sum256(src)
	f := &File{Path: name, dec: dec{file: name}, dir: ".", SHA256: hex.EncodeToString(sum[:])}
	d := &f.dec
	if len(src) > maxFileBytes {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file is %d bytes; an experiments file may be at most %d bytes (%d MiB)", len(src), maxFileBytes, maxFileBytes>>20)}
	}
	var doc yaml.Node
	yd := yaml.NewDecoder(bytes.NewReader(src))
	if err := yd.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err, src)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: name, Line: 1, Msg: "empty file: want db:, defaults:, datasets: and experiments:"}
	}
	root := doc.Content[0]
	// A second document ("---") would be silently ignored: refuse it (an
	// empty one, such as a trailing "---", ignores nothing).
	for {
		var next yaml.Node
		err := yd.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(name, err, src)
		}
		if emptyDocument(&next) {
			continue
		}
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return nil, &Error{File: name, Line: separatorLine(src, line), Msg: `a second YAML document starts here ("---"): an experiments file holds exactly one document (put every experiment under one experiments: list)`}
	}
	if expandedSize(root, map[*yaml.Node]int{}, maxNodes) > maxNodes {
		if hasAlias(root, map[*yaml.Node]bool{}) {
			return nil, d.errf(root, "document too large after expanding aliases (more than %d nodes)", maxNodes)
		}
		return nil, d.errf(root, "document too large: more than %d YAML nodes", maxNodes)
	}
	ps, err := d.pairs(root, "the top level")
	if err != nil {
		return nil, err
	}
	var defaults, datasets, exps *yaml.Node
	for _, p := range ps {
		switch p.key {
		case "db":
			if f.DB, err = d.str(p.v, "db"); err != nil {
				return nil, err
			}
			if f.DB == "" {
				return nil, d.errf(p.v, "db: want a file name, got an empty string")
			}
			if strings.IndexFunc(f.DB, unicode.IsControl) >= 0 {
				// A NUL cut the name short for SQLite (it wrote "a" for "a\x00b.db").
				return nil, d.errf(p.v, "db: %q: a file name cannot hold control characters", f.DB)
			}
		case "defaults":
			defaults = p.v
		case "datasets":
			datasets = p.v
		case "experiments":
			exps = p.v
		default:
			return nil, d.unknownKey(p, "the top level", topKeys)
		}
	}
	if err := f.parseDatasets(datasets); err != nil {
		return nil, err
	}
	base := builtinSettings()
	if defaults != nil {
		if err := d.apply(&base, defaults, "defaults", settingKeys, nil, false, f.datasets); err != nil {
			return nil, err
		}
	}
	if exps == nil {
		return nil, d.errf(root, "no experiments: list at least one under experiments:")
	}
	items, err := d.list(exps, "experiments")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, d.errf(exps, "experiments: the list is empty")
	}
	seen := map[string]int{}
	for _, it := range items {
		e, err := f.parseExperiment(it, base)
		if err != nil {
			return nil, err
		}
		if line, dup := seen[e.name]; dup {
			return nil, d.errf(it, "experiment name %q is used twice (first on line %d)", e.name, line)
		}
		seen[e.name] = resolve(it).Line
		f.exps = append(f.exps, e)
	}
	return f, nil
}

// Experiments lists the experiment names in file order.
func (f *File) Experiments() []string {
	out := make([]string, len(f.exps))
	for i, e := range f.exps {
		out[i] = e.name
	}
	return out
}

// Datasets returns the datasets the file defines (and the built-in stories
// dataset unless the file redefines it), sorted by name. Paths are as
// written; Expand resolves them against the file's directory.
func (f *File) Datasets() []data.Spec {
	var out []data.Spec
	for _, n := range datasetNames(f.datasets) {
		out = append(out, f.datasets[n].spec)
	}
	return out
}

func datasetNames(m map[string]*dataset) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (f *File) parseDatasets(n *yaml.Node) error {
	d := &f.dec
	f.datasets = map[string]*dataset{
		defaultDataset: {spec: data.Spec{Name: defaultDataset, Kind: data.KindSynthetic, Generator: data.GenStories}.WithDefaults()},
	}
	if n == nil {
		return nil
	}
	ps, err := d.pairs(n, "datasets")
	if err != nil {
		return err
	}
	for _, p := range ps {
		if !nameRE.MatchString(p.key) {
			return d.errf(p.k, "dataset name %q: use letters, digits, '.', '_' and '-'", p.key)
		}
		s, keys, err := d.datasetSpec(p)
		if err != nil {
			return err
		}
		f.datasets[p.key] = &dataset{spec: s, node: p.v, keys: keys}
	}
	return nil
}

// datasetSpec decodes one dataset and checks it against the data registry
// (files are checked by Expand, only for the datasets that runs use). keys
// maps each key to its value node.
func (d *dec) datasetSpec(p pair) (s data.Spec, keys map[string]*yaml.Node, err error) {
	s = data.Spec{Name: p.key}
	what := "dataset " + p.key
	ps, err := d.pairs(p.v, what)
	if err != nil {
		return s, nil, err
	}
	keys = map[string]*yaml.Node{}
	var kindN, genN, seedN, valN *yaml.Node
	for _, q := range ps {
		w := what + ": " + q.key
		keys[q.key] = q.v
		switch q.key {
		case "kind":
			s.Kind, err = d.enum(q.v, w, data.Kinds())
			kindN = q.v
		case "generator":
			s.Generator, err = d.enum(q.v, w, data.Generators())
			genN = q.v
		case "path":
			s.Path, err = d.str(q.v, w)
			if err == nil && s.Path == "" {
				err = d.errf(q.v, "%s: empty path", w)
			}
		case "field":
			s.Field, err = d.str(q.v, w)
		case "tokens":
			s.Tokens, err = d.count(q.v, w, 1)
		case "val_fraction":
			s.ValFraction, err = d.floatIn(q.v, w, 0, 1, true, true)
			valN = q.v
		case "seed":
			var v int64
			v, err = d.count(q.v, w, 0)
			s.Seed = uint64(v)
			seedN = q.v
		case "split":
			s.Split, err = d.enum(q.v, w, data.Splits())
		case "groups":
			s.Groups, err = d.groups(q.v, w)
		default:
			return s, nil, d.unknownKey(q, what, datasetKeys)
		}
		if err != nil {
			return s, nil, err
		}
	}
	switch {
	case kindN == nil:
		return s, nil, d.errf(p.k, "%s: no kind (allowed: %s)", what, strings.Join(data.Kinds(), ", "))
	case s.Kind == data.KindSynthetic && genN == nil:
		return s, nil, d.errf(p.k, "%s: synthetic data needs a generator (allowed: %s)", what, strings.Join(data.Generators(), ", "))
	case s.Kind != data.KindSynthetic && genN != nil:
		return s, nil, d.errf(genN, "%s: generator is only for kind synthetic, not %s", what, s.Kind)
	case slices.Contains(pathKinds, s.Kind) && s.Path == "":
		return s, nil, d.errf(p.k, "%s: kind %s needs a path", what, s.Kind)
	case !slices.Contains(pathKinds, s.Kind) && s.Path != "":
		return s, nil, d.errf(keys["path"], "%s: path is not allowed for kind %s", what, s.Kind)
	case s.Field != "" && s.Kind != data.KindJSONL && s.Kind != data.KindParquet:
		return s, nil, d.errf(keys["field"], "%s: field is only for kinds jsonl and parquet, not %s", what, s.Kind)
	case s.Groups != nil && s.Kind != data.KindEmail:
		return s, nil, d.errf(keys["groups"], "%s: groups is only for kind email, not %s", what, s.Kind)
	// Keys that would do nothing for the kind are refused, not hashed.
	case seedN != nil && s.Kind != data.KindSynthetic:
		return s, nil, d.errf(seedN, "%s: seed is only for kind synthetic (it seeds the generator); kind %s reads its data as it is", what, s.Kind)
	case valN != nil && s.Kind == data.KindNanoGPT && s.Tokens == 0:
		return s, nil, d.errf(valN, "%s: val_fraction does nothing for kind nanogpt without tokens: val.bin is the validation split (with a tokens cap, val_fraction sizes the val.bin cap)", what)
	case valN != nil && s.Kind == data.KindLLMC && s.Tokens == 0:
		return s, nil, d.errf(valN, "%s: val_fraction does nothing for kind llmc without tokens: the *val*.bin shards are the validation split (with a tokens cap, val_fraction sizes their cap)", what)
	}
	return s.WithDefaults(), keys, nil
}

// groups decodes an email dataset's groups: a non-empty list of non-empty
// strings without repeats.
func (d *dec) groups(n *yaml.Node, what string) ([]string, error) {
	items, err := d.list(n, what)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, d.errf(n, "%s: the list is empty (omit groups to read every group)", what)
	}
	var out []string
	for _, it := range items {
		g, err := d.str(it, what)
		if err != nil {
			return nil, err
		}
		if g == "" || slices.Contains(out, g) {
			return nil, d.errf(it, "%s: want distinct non-empty group names, got %q", what, g)
		}
		out = append(out, g)
	}
	return out, nil
}

func (f *File) parseExperiment(n *yaml.Node, base settings) (*experiment, error) {
	d := &f.dec
	e := &experiment{node: resolve(n)}
	ps, err := d.pairs(n, "experiment")
	if err != nil {
		return nil, err
	}
	var nameN, modelsN, pairN, sweepN, zipN, refN *yaml.Node
	for _, p := range ps {
		switch p.key {
		case "name":
			nameN = p.v
		case "models":
			modelsN = p.v
		case "pair":
			pairN = p.v
		case "match":
			e.matchN = p.v
		case "sweep":
			sweepN = p.v
		case "zip":
			zipN = p.v
		case "reference":
			refN = p.v
		}
	}
	if nameN == nil {
		return nil, d.errf(n, "experiment: no name")
	}
	if e.name, err = d.str(nameN, "experiment name"); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(e.name) {
		return nil, d.errf(nameN, "experiment name %q: use letters, digits, '.', '_' and '-'", e.name)
	}
	what := "experiment " + e.name
	allowed := append(slices.Clone(settingKeys), targetKeys...)
	e.base = base.clone()
	if err := d.apply(&e.base, n, what, allowed, experimentKeys, false, f.datasets); err != nil {
		return nil, err
	}
	if e.matchN != nil {
		if e.match, err = d.enum(e.matchN, what+": match", matchKinds); err != nil {
			return nil, err
		}
	}
	if err := f.parseModels(e, modelsN, pairN); err != nil {
		return nil, err
	}
	if refN != nil {
		if e.ref, err = f.parseReference(e, refN); err != nil {
			return nil, err
		}
	}
	if sweepN != nil {
		if err := f.parseSweep(e, sweepN, allowed); err != nil {
			return nil, err
		}
	}
	if zipN != nil {
		if err := f.parseZip(e, zipN, allowed); err != nil {
			return nil, err
		}
	}
	return e, f.checkTargets(e)
}

// checkTargets checks that match: and the params/flops targets go together.
func (f *File) checkTargets(e *experiment) error {
	d := &f.dec
	swept := map[string]*yaml.Node{}
	for _, a := range e.axes {
		for i, k := range a.keys {
			swept[k] = a.keyNodes[i]
		}
	}
	for _, t := range targetKeys {
		n := swept[t]
		if t == "params" && n == nil {
			n = e.base.paramsNode
		}
		if t == "flops" && n == nil {
			n = e.base.flopsNode
		}
		if n != nil && e.match != t {
			return d.errf(n, "experiment %s: %s is a match target: add match: %s to size each family to it", e.name, t, t)
		}
		if n == nil && e.match == t {
			return d.errf(e.matchN, "experiment %s: match: %s needs a target: add %s: 1M to the experiment or sweep: {%s: [0.5M, 1M]}", e.name, t, t, t)
		}
	}
	return nil
}

func (f *File) parseModels(e *experiment, modelsN, pairN *yaml.Node) error {
	d := &f.dec
	what := "experiment " + e.name
	var items []*yaml.Node
	var err error
	switch {
	case modelsN != nil && pairN != nil:
		return d.errf(pairN, "%s: give either models: or pair:, not both", what)
	case modelsN == nil && pairN == nil:
		return d.errf(e.node, "%s: no models: list the families under models: or pair:", what)
	case pairN != nil:
		if items, err = d.list(pairN, what+": pair"); err != nil {
			return err
		}
		if len(items) != 2 {
			return d.errf(pairN, "%s: pair: want two families, got %d (use models: for other counts)", what, len(items))
		}
		for _, it := range items {
			fam, err := d.enum(it, what+": pair", models.Families())
			if err != nil {
				return err
			}
			e.entries = append(e.entries, entry{family: fam, node: it})
		}
		if e.entries[0].family == e.entries[1].family {
			return d.errf(pairN, "%s: pair: the two families are both %s", what, e.entries[0].family)
		}
		return nil
	}
	if items, err = d.list(modelsN, what+": models"); err != nil {
		return err
	}
	if len(items) == 0 {
		return d.errf(modelsN, "%s: models: the list is empty", what)
	}
	for _, it := range items {
		r := resolve(it)
		if r != nil && r.Kind == yaml.ScalarNode {
			fam, err := d.enum(it, what+": models", models.Families())
			if err != nil {
				return err
			}
			e.entries = append(e.entries, entry{family: fam, node: it})
			continue
		}
		var c models.Config
		if err := d.applyModel(&c, it, what+": models entry", true); err != nil {
			return err
		}
		if c.Family == "" {
			return d.errf(it, "%s: models entry has no family (allowed: %s)", what, strings.Join(models.Families(), ", "))
		}
		if e.match != "" && c.NEmbd != 0 {
			return d.errf(it, "%s: n_embd is chosen by match: %s; remove it from the models entry", what, e.match)
		}
		e.entries = append(e.entries, entry{family: c.Family, node: it})
	}
	return nil
}

// checkSweepKey checks a dotted sweep key's form (its value types are checked
// by applying every value to a scratch copy of the settings).
func (f *File) checkSweepKey(e *experiment, k *yaml.Node, key string, allowed []string) error {
	d := &f.dec
	what := "experiment " + e.name
	parts := strings.Split(key, ".")
	if slices.Contains(parts, "") {
		return d.errf(k, "%s: sweep key %q: empty part in dotted key", what, key)
	}
	if slices.Contains(experimentKeys, parts[0]) {
		return d.errf(k, "%s: cannot sweep %q (sweepable: %s and their dotted sub-keys, e.g. optimizer.lr, model.gate)", what, key, strings.Join(allowed, ", "))
	}
	if !slices.Contains(allowed, parts[0]) {
		return d.errf(k, "%s: unknown sweep key %q (sweepable: %s and their dotted sub-keys, e.g. optimizer.lr, model.gate)", what, key, strings.Join(allowed, ", "))
	}
	if key == "model.family" {
		return d.errf(k, "%s: cannot sweep model.family: list the families under models: or pair:", what)
	}
	return nil
}

// checkValues checks a sweep key's values: scalars (or lists of scalars),
// distinct, and each valid for the key.
func (f *File) checkValues(e *experiment, k *yaml.Node, key string, vals []*yaml.Node, allowed []string) error {
	d := &f.dec
	what := "experiment " + e.name
	seen := map[string]int{}
	for _, v := range vals {
		if !flat(v, 0) {
			return d.errf(v, "%s: sweep %s: values must be scalars, or lists or mappings of scalars, got %s; sweep the inner keys instead", what, key, describe(v))
		}
		sp := spell(v)
		if line, dup := seen[sp]; dup {
			return d.errf(v, "%s: sweep %s: value %s appears twice (first on line %d)", what, key, sp, line)
		}
		seen[sp] = v.Line
		s := e.base.clone()
		if err := d.apply(&s, nest(key, k, v), "sweep", allowed, nil, true, f.datasets); err != nil {
			return err
		}
	}
	return nil
}

func (f *File) parseSweep(e *experiment, n *yaml.Node, allowed []string) error {
	d := &f.dec
	what := "experiment " + e.name
	ps, err := d.pairs(n, what+": sweep")
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		return d.errf(n, "%s: empty sweep: give at least one key with a list of values, e.g. sweep: {seed: [1, 2]}", what)
	}
	for _, p := range ps {
		if err := f.checkSweepKey(e, p.k, p.key, allowed); err != nil {
			return err
		}
		vals, err := d.list(p.v, what+": sweep "+p.key)
		if err != nil {
			return fmt.Errorf("%w (write a list even for one value: [%s])", err, spell(p.v))
		}
		if len(vals) == 0 {
			return d.errf(p.v, "%s: empty sweep: %s has no values", what, p.key)
		}
		if err := f.checkValues(e, p.k, p.key, vals, allowed); err != nil {
			return err
		}
		a := axis{keys: []string{p.key}, keyNodes: []*yaml.Node{p.k}}
		for _, v := range vals {
			a.values = append(a.values, []*yaml.Node{v})
		}
		e.axes = append(e.axes, a)
	}
	return nil
}

// parseZip reads zip: a mapping of keys whose lists vary together, or a list
// of such mappings (several independent zipped groups).
func (f *File) parseZip(e *experiment, n *yaml.Node, allowed []string) error {
	d := &f.dec
	what := "experiment " + e.name
	groups := []*yaml.Node{n}
	if r := resolve(n); r != nil && r.Kind == yaml.SequenceNode {
		groups = r.Content
		if len(groups) == 0 {
			return d.errf(n, "%s: empty zip", what)
		}
	}
	swept := map[string]int{}
	for _, a := range e.axes {
		for i, k := range a.keys {
			swept[k] = a.keyNodes[i].Line
		}
	}
	for _, g := range groups {
		ps, err := d.pairs(g, what+": zip")
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return d.errf(g, "%s: empty zip: give keys with lists of equal length, e.g. zip: {optimizer.lr: [1e-3, 2e-3], optimizer.min_lr: [1e-4, 2e-4]}", what)
		}
		a := axis{}
		length := -1
		for _, p := range ps {
			if err := f.checkSweepKey(e, p.k, p.key, allowed); err != nil {
				return err
			}
			if line, dup := swept[p.key]; dup {
				return d.errf(p.k, "%s: %s is swept twice (also on line %d)", what, p.key, line)
			}
			swept[p.key] = p.k.Line
			vals, err := d.list(p.v, what+": zip "+p.key)
			if err != nil {
				return err
			}
			if len(vals) == 0 {
				return d.errf(p.v, "%s: empty zip: %s has no values", what, p.key)
			}
			if length >= 0 && len(vals) != length {
				return d.errf(p.v, "%s: zip lists must have equal lengths: %s has %d values, %s has %d", what, p.key, len(vals), ps[0].key, length)
			}
			length = len(vals)
			if err := f.checkValues(e, p.k, p.key, vals, allowed); err != nil {
				return err
			}
			a.keys = append(a.keys, p.key)
			a.keyNodes = append(a.keyNodes, p.k)
		}
		a.values = make([][]*yaml.Node, length)
		for i := range length {
			for _, p := range ps {
				a.values[i] = append(a.values[i], resolve(p.v).Content[i])
			}
		}
		e.axes = append(e.axes, a)
	}
	return nil
}

// nest turns a dotted key and a value into the mapping {a: {b: value}}, with
// the key's position, so that sweep values go through the same decoder.
func nest(key string, k, v *yaml.Node) *yaml.Node {
	parts := strings.Split(key, ".")
	node := v
	for i := len(parts) - 1; i >= 0; i-- {
		kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: parts[i], Line: k.Line, Column: k.Column}
		node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{kn, node}, Line: k.Line, Column: k.Column}
	}
	return node
}

// yamlLineRE picks the line out of yaml.v3's syntax errors.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into an *Error with its line.
// yaml.v3 gives no line for bytes it cannot read (invalid UTF-8, control
// characters: a binary file); those are found in src and named with their
// line and byte offset.
func yamlError(name string, err error, src []byte) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Msg: "not valid YAML: " + m[2]}
	}
	if line, off, what := unreadableByte(src); line > 0 {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf("not valid YAML: %s at byte offset %d (an experiments file is UTF-8 text)", what, off)}
	}
	return &Error{File: name, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// unreadableByte finds the first byte of src that YAML cannot hold: invalid
// UTF-8 or a control character other than tab, LF and CR (and NEL). It
// returns its 1-based line, its byte offset and what it is; line 0: none.
func unreadableByte(src []byte) (line, off int, what string) {
	line = 1
	for off < len(src) {
		r, size := utf8.DecodeRune(src[off:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, off, fmt.Sprintf("invalid UTF-8 (byte 0x%02x)", src[off])
		case r == '\n':
			line++
		case r == '\t' || r == '\r' || r == 0x85 || r == 0xFEFF:
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return line, off, fmt.Sprintf("control character %U", r)
		}
		off += size
	}
	return 0, 0, ""
}

// flat reports whether n is a scalar, or (at depth 0) a list or mapping of
// scalars: what a sweep value may be, so that it can be spelled in a name.
func flat(n *yaml.Node, depth int) bool {
	n = resolve(n)
	switch {
	case n == nil:
		return false
	case n.Kind == yaml.ScalarNode:
		return true
	case depth > 0 || (n.Kind != yaml.SequenceNode && n.Kind != yaml.MappingNode):
		return false
	}
	for _, c := range n.Content {
		if !flat(c, depth+1) {
			return false
		}
	}
	return true
}
