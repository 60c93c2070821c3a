package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// PatternGPT4 names the pre-tokenizer split used by bpe: the GPT-4 (cl100k)
// pattern
//
//	'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
//
// Go's regexp has no look-ahead or possessive quantifiers, so Split implements
// the pattern by hand, alternative by alternative, with the same leftmost-first
// semantics. \p{L}, \p{N} and \s are unicode.IsLetter, unicode.IsNumber and
// unicode.IsSpace. The one known difference: the case-insensitive contractions
// ('s 'd 'm 't 'll 've 're) are matched with ASCII case folding only.
const PatternGPT4 = "gpt4"

// Split cuts s into pre-tokenizer chunks with the GPT-4 pattern (see
// PatternGPT4). The chunks are substrings of s and concatenate to s.
func Split(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := nextChunk(s, i)
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.IsSpace(r)
}

func isPunct(r rune) bool {
	return !isSpace(r) && !isLetter(r) && !isNumber(r)
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// scan advances from i over runes satisfying f, at most max runes (max < 0:
// unlimited), and returns the end offset.
func scan(s string, i int, f func(rune) bool, max int) int {
	for n := 0; i < len(s) && n != max; n++ {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if !f(r) {
			break
		}
		i += size
	}
	return i
}

// nextChunk returns the end offset of the chunk starting at i < len(s).
func nextChunk(s string, i int) int {
	// 1. '(?i:[sdmt]|ll|ve|re)
	if s[i] == '\'' && i+1 < len(s) {
		switch lower(s[i+1]) {
		case 's', 'd', 'm', 't':
			return i + 2
		}
		if i+2 < len(s) {
			switch string([]byte{lower(s[i+1]), lower(s[i+2])}) {
			case "ll", "ve", "re":
				return i + 3
			}
		}
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	// 2. [^\r\n\p{L}\p{N}]?+\p{L}+
	if isLetter(r) {
		return scan(s, i+size, isLetter, -1)
	}
	if r != '\r' && r != '\n' && !isNumber(r) && i+size < len(s) {
		if r2, size2 := utf8.DecodeRuneInString(s[i+size:]); isLetter(r2) {
			return scan(s, i+size+size2, isLetter, -1)
		}
	}
	// 3. \p{N}{1,3}
	if isNumber(r) {
		return scan(s, i, isNumber, 3)
	}
	// 4.  ?[^\s\p{L}\p{N}]++[\r\n]*
	j := i
	if r == ' ' && i+1 < len(s) {
		j = i + 1
	}
	if j < len(s) {
		if r2, _ := utf8.DecodeRuneInString(s[j:]); isPunct(r2) {
			j = scan(s, j, isPunct, -1)
			for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
				j++
			}
			return j
		}
	}
	// Only whitespace is left: r is a space.
	end := scan(s, i, isSpace, -1)
	// 5. \s*[\r\n]: up to the last line break of the whitespace run.
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	// 6. \s+(?!\S): the whole run at the end of s, else all but its last rune.
	if end == len(s) {
		return end
	}
	if _, last := utf8.DecodeLastRuneInString(s[i:end]); end-last > i {
		return end - last
	}
	// 7. \s+
	return end
}
