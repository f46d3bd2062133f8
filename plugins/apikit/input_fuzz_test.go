package apikit

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"testing"
)

// Body binding (§1.2): whatever the body and content type, ReadBody and every accessor either
// bind or answer a 4xx Error; nothing panics.
func FuzzReadBody(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"email":"a@b.c","password":"x","remember":true,"n":3,"o":{"a":1}}`},
		{"application/json; charset=utf-8", `{"email":"\u0000\ud800","email":1}`},
		{"application/json", `[1,2]`},
		{"application/json", `{"a":`},
		{"application/x-www-form-urlencoded", "email=a%40b.c&remember=on&n=1&n=2"},
		{"multipart/form-data; boundary=xx", "--xx\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.c\r\n--xx--\r\n"},
		{"text/plain", "hello"},
		{"", ""},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		b, err := ReadBody(bindEvent(http.MethodPost, ct, bytes.NewReader(body)), BodyForm|BodyMultipart)
		if err != nil {
			fourXX(t, err)
			return
		}
		for _, k := range append(b.Keys(), "email", "password", "remember", "n", "o") {
			b.String(k, Str{Required: true, Max: 254})
			b.Bool(k, false)
			b.Int(k, false)
			b.Object(k, false)
			b.Raw(k)
		}
		if err := b.Err(); err != nil {
			fourXX(t, err)
		}
	})
}

// Pagination (§1.8): any query string gives a page query or a 400.
func FuzzParsePageQuery(f *testing.F) {
	for _, s := range []string{"page=2&page_size=500&search=ab&ordering=-name,email", "page=0", "page=99999999999999999999",
		"page_size=-1&ordering=,,-,--name", "search=%00%ff", "ordering=name&ordering=-name&page=1&page=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // net/http keeps the parseable pairs; those are tried below
		}
		pq, err := ParsePageQuery(q, []string{"name", "email", "created"})
		if err != nil {
			fourXX(t, err)
			return
		}
		if pq.Page < 1 || pq.Size < 1 || pq.Size > MaxPageSize || pq.Offset() < 0 || len([]rune(pq.Search)) > MaxSearchLength {
			t.Fatalf("%q: out of range %+v", raw, pq)
		}
		_ = CheckPageInRange(pq, 1000)
	})
}

func fourXX(t *testing.T, err error) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 {
		t.Fatalf("not a 4xx: %v", err)
	}
}
