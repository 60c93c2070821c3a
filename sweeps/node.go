package sweeps

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a problem in an experiments file, located by file and line.
type Error struct {
	File string // the file name given to Load or Parse
	Line int    // 1-based line; 0 when the problem has no single place
	Msg  string // what is wrong, the offending value and what is allowed
}

// Error formats the problem as "file:line: msg".
func (e *Error) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// maxNodes bounds the size of a document after alias expansion, so that a
// small file full of aliases cannot make the loader do unbounded work.
const maxNodes = 1_000_000

// dec decodes yaml.Nodes strictly, with errors that carry file:line.
type dec struct {
	file string
}

func (d *dec) errf(n *yaml.Node, format string, a ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// expandedSize counts the nodes of n with aliases expanded, stopping early
// once limit is passed. Memoised per node, so it is linear in the document.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int, limit int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = limit + 1 // a cycle counts as too big
	s := 1
	if n.Kind == yaml.AliasNode {
		s += expandedSize(n.Alias, memo, limit)
	}
	for _, c := range n.Content {
		if s > limit {
			break
		}
		s += expandedSize(c, memo, limit)
	}
	memo[n] = s
	return s
}

// hasAlias reports whether the tree under n holds an alias node.
func hasAlias(n *yaml.Node, seen map[*yaml.Node]bool) bool {
	if n == nil || seen[n] {
		return false
	}
	seen[n] = true
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c, seen) {
			return true
		}
	}
	return false
}

// describe names a node's kind and value for error messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "an unsupported YAML node"
}

// pair is one key/value of a mapping.
type pair struct {
	key  string
	k, v *yaml.Node
}

// pairs returns a mapping's entries in order, expanding `<<` merge keys
// (explicit keys win) and rejecting duplicate and non-string keys.
func (d *dec) pairs(n *yaml.Node, what string) ([]pair, error) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, d.errf(n, "%s: want a mapping, got %s", what, describe(n))
	}
	var merged, out []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			return nil, d.errf(n.Content[i], "%s: keys must be plain words, got %s", what, describe(k))
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			m, err := d.mergePairs(v, what)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			return nil, d.errf(k, "%s: key %q appears twice (first on line %d)", what, k.Value, line)
		}
		seen[k.Value] = k.Line
		out = append(out, pair{key: k.Value, k: k, v: v})
	}
	var res []pair
	for _, p := range merged {
		if _, ok := seen[p.key]; !ok {
			seen[p.key] = p.k.Line
			res = append(res, p)
		}
	}
	return append(res, out...), nil
}

// mergePairs returns the entries a `<<` merge key brings in.
func (d *dec) mergePairs(v *yaml.Node, what string) ([]pair, error) {
	v = resolve(v)
	var srcs []*yaml.Node
	switch {
	case v != nil && v.Kind == yaml.MappingNode:
		srcs = []*yaml.Node{v}
	case v != nil && v.Kind == yaml.SequenceNode:
		srcs = v.Content
	default:
		return nil, d.errf(v, "%s: << wants a mapping or a list of mappings, got %s", what, describe(v))
	}
	var out []pair
	seen := map[string]bool{}
	for _, s := range srcs {
		ps, err := d.pairs(s, what)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !seen[p.key] { // earlier mappings win, as in YAML 1.1
				seen[p.key] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// unknownKey reports a key that is not allowed, listing the allowed ones.
func (d *dec) unknownKey(p pair, what string, allowed []string) error {
	return d.errf(p.k, "unknown key %q in %s (allowed: %s)", p.key, what, strings.Join(allowed, ", "))
}

// list returns the items of a sequence.
func (d *dec) list(n *yaml.Node, what string) ([]*yaml.Node, error) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.SequenceNode {
		return nil, d.errf(n, "%s: want a list, got %s", what, describe(n))
	}
	return r.Content, nil
}

// str decodes a string scalar (a plain word or a quoted string).
func (d *dec) str(n *yaml.Node, what string) (string, error) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() != "!!str" {
		return "", d.errf(n, "%s: want a string, got %s", what, describe(n))
	}
	return r.Value, nil
}

// enum decodes a string that must be one of allowed.
func (d *dec) enum(n *yaml.Node, what string, allowed []string) (string, error) {
	s, err := d.str(n, what)
	if err != nil {
		return "", fmt.Errorf("%w (allowed: %s)", err, strings.Join(allowed, ", "))
	}
	if !slices.Contains(allowed, s) {
		return "", d.errf(n, "%s: %q is not allowed (allowed: %s)", what, s, strings.Join(allowed, ", "))
	}
	return s, nil
}

// boolean decodes true or false.
func (d *dec) boolean(n *yaml.Node, what string) (bool, error) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() != "!!bool" {
		return false, d.errf(n, "%s: want true or false, got %s", what, describe(n))
	}
	return strconv.ParseBool(strings.ToLower(r.Value))
}

// sizeSuffixes are the multipliers accepted after a count: decimal, not binary.
var sizeSuffixes = map[byte]float64{'K': 1e3, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12}

// errTooLarge: a well-formed number beyond float64 (1e400).
var errTooLarge = errors.New("number too large")

// parseNumber parses a number with an optional K/M/G/T size suffix; suffixed
// reports whether one was used.
func parseNumber(s string) (v float64, suffixed bool, err error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	mult := 1.0
	if len(t) > 1 {
		if m, ok := sizeSuffixes[t[len(t)-1]]; ok {
			mult, suffixed, t = m, true, t[:len(t)-1]
		}
	}
	v, err = strconv.ParseFloat(t, 64)
	if errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0) {
		return 0, false, errTooLarge
	}
	if err != nil {
		i, ierr := strconv.ParseInt(t, 0, 64) // 0x10, 0o17
		if ierr != nil {
			return 0, false, fmt.Errorf("%q is not a number", s)
		}
		v = float64(i)
	}
	v *= mult
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("%q is not a finite number", s)
	}
	return v, suffixed, nil
}

// number decodes a float; counts may carry a K/M/G/T suffix.
func (d *dec) number(n *yaml.Node, what string, allowSuffix bool) (float64, error) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode {
		return 0, d.errf(n, "%s: want a number, got %s", what, describe(n))
	}
	switch r.ShortTag() {
	case "!!int", "!!float":
	case "!!str":
		quoted := r.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
		if _, _, err := parseNumber(r.Value); !quoted && errors.Is(err, errTooLarge) {
			return 0, d.errf(n, "%s: %s is too large for a number (at most about 1.8e308)", what, r.Value)
		}
		if quoted || !allowSuffix {
			return 0, d.errf(n, "%s: want a number, got %s", what, describe(n))
		}
	default:
		return 0, d.errf(n, "%s: want a number, got %s", what, describe(n))
	}
	v, suffixed, err := parseNumber(r.Value)
	if errors.Is(err, errTooLarge) {
		return 0, d.errf(n, "%s: %s is too large for a number (at most about 1.8e308)", what, r.Value)
	}
	if err != nil {
		hint := ""
		if allowSuffix {
			hint = " (a count may end in K, M, G or T: 2M, 0.5M, 1e15)"
		}
		return 0, d.errf(n, "%s: want a number, got %s%s", what, describe(n), hint)
	}
	if suffixed && !allowSuffix {
		return 0, d.errf(n, "%s: size suffixes are for counts only, got %s", what, describe(n))
	}
	return v, nil
}

// count decodes a whole number >= lo (suffixes allowed).
func (d *dec) count(n *yaml.Node, what string, lo int64) (int64, error) {
	v, err := d.number(n, what, true)
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) {
		return 0, d.errf(n, "%s: want a whole number, got %s", what, describe(n))
	}
	// 2^53 + 1 reads as the float 2^53: caught on the literal, or a run
	// named seed=9007199254740993 would train with seed 9007199254740992.
	big := false
	if r := resolve(n); r != nil {
		if i, err := strconv.ParseInt(r.Value, 10, 64); err == nil && i > 1<<53 {
			big = true
		}
	}
	if v < float64(lo) || v > 1<<53 || big {
		return 0, d.errf(n, "%s: want a whole number from %d to 2^53, got %s", what, lo, describe(n))
	}
	return int64(v), nil
}

// smallCount is count limited to what an int holds comfortably.
func (d *dec) smallCount(n *yaml.Node, what string, lo int64) (int, error) {
	v, err := d.count(n, what, lo)
	if err != nil {
		return 0, err
	}
	if v > 1<<31 {
		return 0, d.errf(n, "%s: %s is too large (at most 2^31)", what, describe(n))
	}
	return int(v), nil
}

// boundedCount is count limited to [lo, hi].
func (d *dec) boundedCount(n *yaml.Node, what string, lo, hi int64) (int, error) {
	v, err := d.count(n, what, lo)
	if err != nil {
		return 0, err
	}
	if v > hi {
		return 0, d.errf(n, "%s: %s is too large (at most %d)", what, describe(n), hi)
	}
	return int(v), nil
}

// floatIn decodes a float in [lo, hi] (hiOpen: [lo, hi)).
func (d *dec) floatIn(n *yaml.Node, what string, lo, hi float64, loOpen, hiOpen bool) (float64, error) {
	v, err := d.number(n, what, false)
	if err != nil {
		return 0, err
	}
	if v < lo || v > hi || (loOpen && v == lo) || (hiOpen && v == hi) {
		l, h := "[", "]"
		if loOpen {
			l = "("
		}
		if hiOpen {
			h = ")"
		}
		hs := strconv.FormatFloat(hi, 'g', -1, 64)
		if math.IsInf(hi, 1) {
			hs = "inf"
		}
		return 0, d.errf(n, "%s: %s is out of range %s%g, %s%s", what, describe(n), l, lo, hs, h)
	}
	return v, nil
}

// spell is how a sweep value appears in a run name: as written in the YAML,
// except that floating-point numbers are normalised (3e-3 and 0.0030 are both
// 0.003, 7e-05 is 7e-5), lists are joined with '_' and mappings are written
// key:value joined with '+' ({tokens: 2M} is tokens:2M).
func spell(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return ""
	}
	switch n.Kind {
	case yaml.MappingNode:
		var parts []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, spell(n.Content[i])+":"+spell(n.Content[i+1]))
		}
		return strings.Join(parts, "+")
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, c := range n.Content {
			parts[i] = spell(c)
		}
		return strings.Join(parts, "_")
	case yaml.ScalarNode:
		if n.ShortTag() == "!!float" {
			if v, _, err := parseNumber(n.Value); err == nil {
				return formatFloat(v)
			}
		}
		return n.Value
	}
	return "?"
}

// formatFloat is the shortest 'g' form without exponent padding: 1e15, 7e-5.
func formatFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	s = strings.Replace(s, "e+", "e", 1)
	s = strings.Replace(s, "e-0", "e-", 1)
	s = strings.Replace(s, "e0", "e", 1)
	return s
}
