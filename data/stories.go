package data

import (
	"math/rand/v2"
	"strings"
)

// pcgStream is the second PCG word used with a spec's seed; fixed so that a
// seed alone determines a corpus.
const pcgStream = 0x7469_6e79_7363_616c // "tinyscal"

// newRNG returns the deterministic generator for seed.
func newRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, pcgStream))
}

// Generate returns the synthetic corpus of spec (defaults applied): exactly
// spec.Tokens characters of the named generator's output, seeded by spec.Seed.
// The same spec always yields the same text.
func Generate(spec Spec) string {
	spec = spec.WithDefaults()
	rng := newRNG(spec.Seed)
	vocab := newStoryVocab()
	var b strings.Builder
	b.Grow(int(spec.Tokens) + 1024)
	for int64(b.Len()) < spec.Tokens {
		switch spec.Generator {
		case GenStories:
			writeStory(&b, rng, vocab)
		case GenMQAR:
			writeMQAR(&b, rng)
		case GenCopy:
			writeCopy(&b, rng)
		default:
			return ""
		}
	}
	return b.String()[:spec.Tokens] // all generators write ASCII
}

// character is one story character; everything about it stays fixed for the
// whole story, so later sentences can be checked against the introduction.
type character struct {
	name, kind, trait, color, object string
	he                               bool
}

func (c character) subj() string {
	if c.he {
		return "he"
	}
	return "she"
}

func (c character) capSubj() string { return capitalize(c.subj()) }

func (c character) obj() string {
	if c.he {
		return "him"
	}
	return "her"
}

func (c character) poss() string {
	if c.he {
		return "his"
	}
	return "her"
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// storyName is a name with its fixed pronoun.
type storyName struct {
	name string
	he   bool
}

// storyVocab is the vocabulary of the story grammar. It is built per
// Generate call so the package holds no mutable globals.
type storyVocab struct {
	names                                  []storyName
	kinds, colors, objects, places, hiding []string
	// traits pairs a trait with a sentence tail that shows it.
	traits []struct{ trait, shows string }
}

func newStoryVocab() *storyVocab {
	return &storyVocab{
		names: []storyName{
			{"Lily", false}, {"Mia", false}, {"Emma", false}, {"Zoe", false}, {"Ava", false},
			{"Nora", false}, {"Ruby", false}, {"Ella", false}, {"Rosa", false}, {"Maya", false},
			{"Tom", true}, {"Ben", true}, {"Max", true}, {"Sam", true}, {"Leo", true},
			{"Jack", true}, {"Finn", true}, {"Oscar", true}, {"Theo", true}, {"Omar", true},
		},
		kinds:   []string{"girl", "boy", "cat", "dog", "fox", "bunny", "bear", "duck", "mouse", "owl"},
		colors:  []string{"red", "blue", "green", "yellow", "purple", "orange", "pink", "shiny"},
		objects: []string{"ball", "kite", "hat", "drum", "book", "boat", "key", "cup", "bell", "box", "shell", "scarf"},
		places:  []string{"park", "forest", "beach", "garden", "old barn", "river", "hill", "market"},
		hiding:  []string{"a big rock", "the bed", "a pile of leaves", "an old tree", "the bench", "a bush"},
		traits: []struct{ trait, shows string }{
			{"brave", "was not afraid of anything"},
			{"shy", "spoke very softly"},
			{"curious", "wanted to see everything"},
			{"kind", "always helped others"},
			{"silly", "laughed all the time"},
			{"sleepy", "yawned a lot"},
			{"clever", "had many good ideas"},
			{"grumpy", "did not like to share"},
		},
	}
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (v *storyVocab) traitShows(trait string) string {
	for _, t := range v.traits {
		if t.trait == trait {
			return t.shows
		}
	}
	return ""
}

// writeStory writes one short story introducing 2–3 characters with a kind,
// trait, pronoun and a colored object, followed by one or two episodes that
// refer back to them by name, pronoun and possession. Stories end with
// "The end." and a blank line.
func writeStory(b *strings.Builder, rng *rand.Rand, v *storyVocab) {
	n := 2 + rng.IntN(2)
	names := rng.Perm(len(v.names))[:n]
	objects := rng.Perm(len(v.objects))[:n]
	cs := make([]character, n)
	for i := range cs {
		sn := v.names[names[i]]
		kind := pick(rng, v.kinds)
		if kind == "girl" && sn.he {
			kind = "boy"
		} else if kind == "boy" && !sn.he {
			kind = "girl"
		}
		cs[i] = character{name: sn.name, he: sn.he, kind: kind, trait: pick(rng, v.traits).trait,
			color: pick(rng, v.colors), object: v.objects[objects[i]]}
	}
	a := cs[0]
	w := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	w("Once upon a time, there was a ", a.trait, " ", a.kind, " named ", a.name, ". ",
		a.capSubj(), " had a ", a.color, " ", a.object, ". ")
	for _, c := range cs[1:] {
		w(c.name, " was a ", c.trait, " ", c.kind, " and a friend of ", a.name, ". ",
			c.capSubj(), " had a ", c.color, " ", c.object, ". ")
	}
	for _, c := range cs {
		if rng.IntN(2) == 0 {
			w(c.name, " was ", c.trait, ", so ", c.subj(), " ", v.traitShows(c.trait), ". ")
		}
	}
	episodes := 1 + rng.IntN(2)
	for e := 0; e < episodes; e++ {
		x := cs[rng.IntN(n)]
		y := cs[rng.IntN(n)]
		for y.name == x.name {
			y = cs[rng.IntN(n)]
		}
		place := pick(rng, v.places)
		switch rng.IntN(3) {
		case 0: // lost object
			w("One day, ", x.name, " and ", y.name, " went to the ", place, ". ",
				x.name, " took ", x.poss(), " ", x.color, " ", x.object, ". ",
				"But then ", x.name, " lost ", x.poss(), " ", x.color, " ", x.object, "! ",
				x.capSubj(), " was very sad. ",
				y.name, " said, \"Do not worry, ", x.name, ". I will help you.\" ",
				y.name, " looked under ", pick(rng, v.hiding), " and found ", x.name, "'s ", x.color, " ", x.object, ". ",
				x.name, " was happy, and ", x.subj(), " smiled. ", x.capSubj(), " gave ", y.obj(), " a big hug. ")
		case 1: // sharing
			w(x.name, " wanted to play with ", y.name, "'s ", y.color, " ", y.object, ". ",
				x.capSubj(), " asked, \"", y.name, ", can I play with your ", y.object, "?\" ")
			if y.trait == "grumpy" {
				w(y.name, " said no, because ", y.subj(), " was grumpy. ",
					"Then ", y.subj(), " saw that ", x.name, " was sad, and ", y.subj(), " shared ", y.poss(), " ", y.object, ". ")
			} else {
				w(y.name, " said yes. ")
			}
			w("They played with ", y.name, "'s ", y.color, " ", y.object, " at the ", place, " all day. ",
				y.name, " was happy, and ", y.subj(), " smiled. ")
		default: // storm
			w("One day, a big storm came to the ", place, ". ", x.name, " was scared. ",
				y.name, " held ", x.poss(), " hand and said, \"We will be safe, ", x.name, ".\" ",
				"They hid under ", pick(rng, v.hiding), " until the sun came out. ",
				x.name, " was happy, and ", x.subj(), " smiled. ")
		}
	}
	x := cs[rng.IntN(n)]
	w("In the end, ", x.name, " kept ", x.poss(), " ", x.color, " ", x.object, " safe, and everyone was happy. The end.\n\n")
}
