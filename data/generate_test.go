package data

import (
	"regexp"
	"strings"
	"testing"
)

func TestGenerateDeterminism(t *testing.T) {
	for _, g := range Generators() {
		t.Run(g, func(t *testing.T) {
			spec := Spec{Kind: KindSynthetic, Generator: g, Tokens: 5000, Seed: 3}
			a, b := Generate(spec), Generate(spec)
			if a != b {
				t.Fatal("same seed gave different corpora")
			}
			if len(a) != 5000 {
				t.Errorf("length %d, want 5000", len(a))
			}
			spec.Seed = 4
			if Generate(spec) == a {
				t.Error("different seeds gave the same corpus")
			}
		})
	}
}

// TestGenerateGolden pins the start of each generator's output for seed 1, so
// an accidental change to a generator (which would silently invalidate
// caches and comparisons across versions) fails loudly. Bump CacheVersion
// when changing a generator on purpose.
func TestGenerateGolden(t *testing.T) {
	cases := []struct{ gen, want string }{
		{GenCopy, "daqtcvrefpbhtsxg = daqtcvrefpbhtsxg\nntrujasawkgcvxg = ntrujasawkgcvxg\n"},
		{GenMQAR, "f8 u3 l2 x0 b8 g8 h2 m2 | b? 8 g? 8 h? 2 u? 3 f? 8 l? 2 m? 2 x? 0\n"},
		{GenStories, "Once upon a time, there was a shy mouse named Zoe. She had a green book. Finn was a curious bunny and a friend of Zoe."},
	}
	for _, c := range cases {
		got := Generate(Spec{Kind: KindSynthetic, Generator: c.gen, Tokens: 2000, Seed: 1})
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: got %.150q, want prefix %q", c.gen, got, c.want)
		}
	}
}

var (
	reIntro    = regexp.MustCompile(`named ([A-Z][a-z]+)\. (He|She) had a ([a-z]+) ([a-z]+)\.`)
	reFriend   = regexp.MustCompile(`([A-Z][a-z]+) was a [a-z]+ [a-z]+ and a friend of ([A-Z][a-z]+)\. (He|She) had a ([a-z]+) ([a-z]+)\.`)
	rePossName = regexp.MustCompile(`([A-Z][a-z]+)'s ([a-z]+) ([a-z]+)`)
	rePossPron = regexp.MustCompile(`([A-Z][a-z]+) (?:kept|took|lost) (his|her) ([a-z]+) ([a-z]+)`)
	reSmiled   = regexp.MustCompile(`([A-Z][a-z]+) was happy, and (he|she) smiled`)
	reTraitSo  = regexp.MustCompile(`([A-Z][a-z]+) was [a-z]+, so (he|she) `)
	reWord     = regexp.MustCompile(`[A-Z][a-z]+`)
)

// TestStoriesConsistency checks every complete story: 2–3 characters are
// introduced with a pronoun and an object; every later name is one of them;
// every possession and pronoun agrees with the introduction.
func TestStoriesConsistency(t *testing.T) {
	text := Generate(Spec{Kind: KindSynthetic, Generator: GenStories, Tokens: 60000, Seed: 11})
	stories := strings.Split(text, "\n\n")
	stories = stories[:len(stories)-1] // the last one is cut off
	if len(stories) < 50 {
		t.Fatalf("only %d stories", len(stories))
	}
	vocab := newStoryVocab()
	isName := map[string]bool{}
	for _, n := range vocab.names {
		isName[n.name] = true
	}
	type who struct{ pron, object string }
	for si, s := range stories {
		chars := map[string]who{}
		if m := reIntro.FindStringSubmatch(s); m != nil {
			chars[m[1]] = who{strings.ToLower(m[2]), m[3] + " " + m[4]}
		}
		for _, m := range reFriend.FindAllStringSubmatch(s, -1) {
			chars[m[1]] = who{strings.ToLower(m[3]), m[4] + " " + m[5]}
		}
		if len(chars) < 2 || len(chars) > 3 {
			t.Fatalf("story %d introduces %d characters: %s", si, len(chars), s)
		}
		for _, w := range reWord.FindAllString(s, -1) {
			if isName[w] {
				if _, ok := chars[w]; !ok {
					t.Errorf("story %d mentions %s, who was never introduced: %s", si, w, s)
				}
			}
		}
		for _, m := range rePossName.FindAllStringSubmatch(s, -1) {
			if got := m[2] + " " + m[3]; chars[m[1]].object != got {
				t.Errorf("story %d: %s's %s, but %s had a %s", si, m[1], got, m[1], chars[m[1]].object)
			}
		}
		possOf := map[string]string{"he": "his", "she": "her"}
		for _, m := range rePossPron.FindAllStringSubmatch(s, -1) {
			c := chars[m[1]]
			if m[2] != possOf[c.pron] || m[3]+" "+m[4] != c.object {
				t.Errorf("story %d: %q disagrees with %s (%s, %s)", si, m[0], m[1], c.pron, c.object)
			}
		}
		for _, re := range []*regexp.Regexp{reSmiled, reTraitSo} {
			for _, m := range re.FindAllStringSubmatch(s, -1) {
				if chars[m[1]].pron != m[2] {
					t.Errorf("story %d: %q, but %s is %q", si, m[0], m[1], chars[m[1]].pron)
				}
			}
		}
	}
}

var reMQAR = regexp.MustCompile(`^((?:[a-z][0-9] )+)\|((?: [a-z]\? [0-9])+)$`)

func TestMQARAnswersCorrect(t *testing.T) {
	text := Generate(Spec{Kind: KindSynthetic, Generator: GenMQAR, Tokens: 20000, Seed: 5})
	lines := strings.Split(text, "\n")
	lines = lines[:len(lines)-1]
	for _, l := range lines {
		m := reMQAR.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("malformed line %q", l)
		}
		kv := map[string]string{}
		for _, p := range strings.Fields(m[1]) {
			if _, dup := kv[p[:1]]; dup {
				t.Fatalf("duplicate key in %q", l)
			}
			kv[p[:1]] = p[1:]
		}
		q := strings.Fields(m[2])
		if len(q) != 2*len(kv) {
			t.Fatalf("%d queries for %d keys in %q", len(q)/2, len(kv), l)
		}
		for i := 0; i < len(q); i += 2 {
			if kv[q[i][:1]] != q[i+1] {
				t.Errorf("line %q: query %s answered %s, want %s", l, q[i], q[i+1], kv[q[i][:1]])
			}
		}
	}
}

func TestCopyLines(t *testing.T) {
	text := Generate(Spec{Kind: KindSynthetic, Generator: GenCopy, Tokens: 5000, Seed: 5})
	lines := strings.Split(text, "\n")
	for _, l := range lines[:len(lines)-1] {
		a, b, ok := strings.Cut(l, " = ")
		if !ok || a != b || len(a) < copyMinLen || len(a) > copyMaxLen {
			t.Errorf("bad copy line %q", l)
		}
	}
}
