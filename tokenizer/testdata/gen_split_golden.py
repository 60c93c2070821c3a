# Generates split_golden.json: the reference GPT-4 (cl100k) pre-tokenizer
# split computed by Python's `regex` module (which supports the pattern's
# look-ahead and possessive quantifiers), for TestSplitGolden.
# Run from tokenizer/: python3 testdata/gen_split_golden.py > testdata/split_golden.json
import json, random, regex
PAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
hand = ["Hello world", "hello   world", "I'm don't we'll they've YOU'RE 'S", "12345678",
        "x := []int{1, 2}\n\tif err != nil {\n\t\treturn err\n\t}\n", "a  \n\n  x", "end   ",
        "naïve café — Ünïcödé 日本語のテキスト 🙂🚀", "\r\n\r\n  \r\n x", "(x) + y!!", "'", "'hello",
        "Ⅻ½ 3.14159", "tab\t\tsep\u00a0nbsp\u2028line", "e\u0301 combining", "...\n\n\n", " !\n", "  !!  ??\n"]
alphabet = list("aAzZ09 ' \n\r\t.,!?()-_=+:;\"") + ["é", "ß", "日", "🙂", "\u00a0", "\u2028", "Ⅻ", "½", "\u0301", "s", "t", "l", "v", "e", "r", "m", "d", "S", "LL"]
rng = random.Random(20261126)
cases = hand[:]
for _ in range(400):
    n = rng.randint(1, 24)
    cases.append("".join(rng.choice(alphabet) for _ in range(n)))
out = [{"in": s, "want": regex.findall(PAT, s)} for s in cases]
print(json.dumps(out, ensure_ascii=False, indent=0))
