package apikit

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
)

// plainPieces are what generated strings are made of: plain characters, and every kind of
// character encoding/json escapes or replaces.
var plainPieces = []string{"a", "Z", "0", ".", "-", "_", "@", " ", "~", "/", "+", "=",
	`"`, `\`, `\"`, `\u0041`, "<", ">", "&", "é", "\u2028", "\x01", "\t", "\n", "\xff", "\x7f"}

func genString(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(8); n > 0; n-- {
		if r.IntN(4) == 0 {
			b.WriteString(plainPieces[r.IntN(len(plainPieces))])
		} else {
			b.WriteString(plainPieces[r.IntN(12)]) // mostly plain
		}
	}
	return b.String()
}

var jsonSpaces = []string{"", "", " ", "\n", "\t ", "\r\n"}

// genObject writes a JSON-ish object: plain strings quoted as they are (which is not valid JSON
// for some pieces), other values (numbers, null, nested objects) now and then, and one random
// corruption in some of them.
func genObject(r *rand.Rand) []byte {
	sp := func() string { return jsonSpaces[r.IntN(len(jsonSpaces))] }
	var b strings.Builder
	b.WriteString(sp() + "{" + sp())
	for i, n := 0, r.IntN(4); i < n; i++ {
		if i > 0 {
			b.WriteString(sp() + "," + sp())
		}
		b.WriteString(`"` + genString(r) + `"` + sp() + ":" + sp())
		switch r.IntN(8) {
		case 0:
			b.WriteString("12")
		case 1:
			b.WriteString("null")
		case 2:
			b.WriteString(`{"a":"b"}`)
		default:
			b.WriteString(`"` + genString(r) + `"`)
		}
	}
	b.WriteString(sp() + "}" + sp())
	out := []byte(b.String())
	if len(out) > 0 && r.IntN(3) == 0 {
		i := r.IntN(len(out))
		switch r.IntN(3) {
		case 0:
			out = append(out[:i], out[i+1:]...)
		case 1:
			out = append(out[:i], append([]byte(plainPieces[r.IntN(len(plainPieces))]), out[i:]...)...)
		default:
			out = append(out, "x"...)
		}
	}
	return out
}

// checkPlainObject: whenever the fast path accepts data, encoding/json accepts it too and binds
// the same keys to the same raw values.
func checkPlainObject(t *testing.T, data []byte) bool {
	t.Helper()
	m, ok := parsePlainObject(data)
	if !ok {
		return false
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(data, &want); err != nil || want == nil {
		t.Fatalf("fast path accepted %q, encoding/json: %v", data, err)
	}
	if !maps.EqualFunc(m, want, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
		t.Fatalf("%q: fast path %q, encoding/json %q", data, m, want)
	}
	for k, raw := range m {
		ok := len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"'
		var got, s string
		if ok {
			got = string(raw[1 : len(raw)-1]) // what Body.String takes from a plain body
		}
		if err := json.Unmarshal(raw, &s); !ok || err != nil || got != s {
			t.Fatalf("%q: value of %q: fast %q (%v), encoding/json %q (%v)", data, k, got, ok, s, err)
		}
	}
	return true
}

func TestPlainObjectMatchesEncodingJSON(t *testing.T) {
	// The shapes the fast path exists for are taken by it.
	for _, s := range []string{`{"refresh":"eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0.c2ln-_"}`, ` {} `,
		`{ "email" : "a.b+c@example.com", "password": "s3cret pass!", "email": "last@example.com" }`} {
		if !checkPlainObject(t, []byte(s)) {
			t.Fatalf("fast path refused %q", s)
		}
	}
	// Everything it must leave to encoding/json.
	for _, s := range []string{`{"a":"\"x"}`, `{"a":"\u0041"}`, `{"a":1}`, `{"a":null}`, `{"a":"é"}`,
		`{"a":"<b>"}`, "{\"a\":\"\x01\"}", `{"a":"b",}`, `{"a":"b"} x`, `{"a" "b"}`, `{"a":"b"`, `[]`,
		`{'a':'b'}`, `{"a":"b" "c":"d"}`, `{,}`, "\ufeff{}", `{"a\"":"b"}`} {
		if checkPlainObject(t, []byte(s)) {
			t.Fatalf("fast path took %q", s)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for range 20000 {
		if checkPlainObject(t, genObject(r)) {
			taken++
		}
	}
	if taken < 2000 {
		t.Fatalf("only %d of 20000 generated objects took the fast path", taken)
	}
}

func FuzzPlainObject(f *testing.F) {
	for _, s := range []string{`{"refresh":"a.b.c"}`, `{}`, `{"a":"b","a":"c"}`, `{"a":"\n"}`, ` { "x" : "y" } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkPlainObject(t, data) })
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	encode := func(s string, escapeHTML bool) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(escapeHTML)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	r := rand.New(rand.NewPCG(3, 4))
	cases := []string{"", "eyJ.abc-_", "a<b>&c", `q"uote`, `back\slash`, "ctl\x00\x1f", "bad\xffutf8", "é\u2028"}
	for range 5000 {
		cases = append(cases, genString(r))
	}
	for _, s := range cases {
		for _, html := range []bool{true, false} {
			if got, want := string(AppendJSONString([]byte("x"), s, html)), "x"+encode(s, html); got != want {
				t.Fatalf("%q (escapeHTML %v): got %s, want %s", s, html, got, want)
			}
		}
		if m, _ := json.Marshal(s); string(AppendJSONString(nil, s, true)) != string(m) {
			t.Fatalf("%q: json.Marshal gives %s", s, m)
		}
	}
}
