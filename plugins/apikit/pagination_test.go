package apikit

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

func pgQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPageQueryDefaults(t *testing.T) {
	q, err := ParsePageQuery(url.Values{}, []string{"email"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Page != 1 || q.Size != 50 || q.Search != "" || q.Ordering != nil || q.Offset() != 0 {
		t.Fatalf("defaults: %+v", q)
	}
}

func TestPageQueryValues(t *testing.T) {
	q, err := ParsePageQuery(pgQuery(t, "page=3&page_size=201&search=+Ann+&ordering=-created,email,,-created"), []string{"email", "created"})
	if err != nil {
		t.Fatal(err)
	}
	want := PageQuery{Page: 3, Size: 200, Search: "Ann", Ordering: []OrderField{{"created", true}, {"email", false}}}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("got %+v want %+v", q, want)
	}
	if q.Offset() != 400 {
		t.Fatalf("offset %d", q.Offset())
	}
	q, _ = ParsePageQuery(pgQuery(t, "page_size=200"), nil)
	if q.Size != 200 {
		t.Fatal("200 stays 200")
	}
	q, _ = ParsePageQuery(pgQuery(t, "page_size=99999999999999999999999"), nil)
	if q.Size != 200 {
		t.Fatal("huge page_size clamps")
	}
	q, _ = ParsePageQuery(pgQuery(t, "page=99999999999999999999999&page_size=7"), nil)
	if q.Page != math.MaxInt || q.Offset() != math.MaxInt {
		t.Fatalf("huge page saturates: %+v", q)
	}
	if err := CheckPageInRange(q, 10); err == nil {
		t.Fatal("huge page out of range")
	}
}

func TestPageQueryErrors(t *testing.T) {
	cases := []struct {
		raw  string
		want FieldErrors
	}{
		{"page=0", FieldErrors{"page": {"A valid integer is required."}}},
		{"page=-1", FieldErrors{"page": {"A valid integer is required."}}},
		{"page=abc", FieldErrors{"page": {"A valid integer is required."}}},
		{"page=1.5", FieldErrors{"page": {"A valid integer is required."}}},
		{"page=", FieldErrors{"page": {"A valid integer is required."}}},
		{"page_size=0", FieldErrors{"page_size": {"A valid integer is required."}}},
		{"page_size=x", FieldErrors{"page_size": {"A valid integer is required."}}},
		{"ordering=bogus", FieldErrors{"ordering": {"Invalid ordering field: bogus."}}},
		{"ordering=-bogus", FieldErrors{"ordering": {"Invalid ordering field: bogus."}}},
		{"ordering=email,Email,nope", FieldErrors{"ordering": {"Invalid ordering field: Email."}}},
		{"ordering=-", FieldErrors{"ordering": {"Invalid ordering field: -."}}},
		{"search=" + string(pgLong101()), FieldErrors{"search": {"Ensure this field has no more than 100 characters."}}},
		{"page=abc&page_size=0&search=" + string(pgLong101()) + "&ordering=x", FieldErrors{
			"page":      {"A valid integer is required."},
			"page_size": {"A valid integer is required."},
			"search":    {"Ensure this field has no more than 100 characters."},
			"ordering":  {"Invalid ordering field: x."},
		}},
	}
	for _, c := range cases {
		_, err := ParsePageQuery(pgQuery(t, c.raw), []string{"email"})
		bindWantFields(t, err, c.want)
	}
	// 100 characters (code points) is fine.
	s := []rune{}
	for range 100 {
		s = append(s, 'é')
	}
	if q, err := ParsePageQuery(url.Values{"search": {string(s)}}, nil); err != nil || q.Search != string(s) {
		t.Fatalf("100 chars: %v", err)
	}
}

func pgLong101() []byte {
	b := make([]byte, 101)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func pgRequest(target string) *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }

func TestPageLinks(t *testing.T) {
	const app = "https://auth.example.com"

	// The spec's example.
	r := pgRequest("/api/v1/systems/public?page_size=1")
	q, _ := ParsePageQuery(r.URL.Query(), nil)
	p, err := NewPage(app, r, q, 3, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Next == nil || *p.Next != app+"/api/v1/systems/public/?page_size=1&page=2" || p.Previous != nil {
		t.Fatalf("next %v previous %v", pgDeref(p.Next), pgDeref(p.Previous))
	}

	// Original order kept, page replaced in place, values form-encoded.
	r = pgRequest("/api/v1/users/?search=john+doe&page=2&page_size=1&ordering=-email&x=a%26b")
	q, _ = ParsePageQuery(r.URL.Query(), []string{"email"})
	p, err = NewPage(app+"/", r, q, 3, []string{"b"})
	if err != nil {
		t.Fatal(err)
	}
	if *p.Next != app+"/api/v1/users/?search=john+doe&page=3&page_size=1&ordering=-email&x=a%26b" {
		t.Fatalf("next: %s", *p.Next)
	}
	if *p.Previous != app+"/api/v1/users/?search=john+doe&page=1&page_size=1&ordering=-email&x=a%26b" {
		t.Fatalf("previous keeps page=1: %s", *p.Previous)
	}

	// Last page: no next; previous of page 3.
	r = pgRequest("/api/v1/users?page_size=1&page=3&search=a%20b")
	q, _ = ParsePageQuery(r.URL.Query(), nil)
	p, _ = NewPage(app, r, q, 3, []string{"c"})
	if p.Next != nil || *p.Previous != app+"/api/v1/users/?page_size=1&page=2&search=a+b" {
		t.Fatalf("last page: %v %v", pgDeref(p.Next), pgDeref(p.Previous))
	}

	// A repeated page keeps its first position only.
	r = pgRequest("/api/v1/users/?page=1&a=1&page=9")
	q, _ = ParsePageQuery(r.URL.Query(), nil)
	q.Size = 1
	p, _ = NewPage(app, r, q, 2, []string{"d"})
	if *p.Next != app+"/api/v1/users/?page=2&a=1" {
		t.Fatalf("repeated page: %s", *p.Next)
	}

	// No query at all: page appended.
	r = pgRequest("/api/v1/users/")
	q = PageQuery{Page: 1, Size: 50}
	p, _ = NewPage(app, r, q, 51, []string{})
	if *p.Next != app+"/api/v1/users/?page=2" {
		t.Fatalf("bare: %s", *p.Next)
	}
}

func pgDeref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestPageEmptyAndOutOfRange(t *testing.T) {
	r := pgRequest("/api/v1/users/")
	p, err := NewPage[int]("https://x", r, PageQuery{Page: 1, Size: 50}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	if string(b) != `{"count":0,"next":null,"previous":null,"results":[]}` {
		t.Fatalf("empty page JSON: %s", b)
	}

	r = pgRequest("/api/v1/users/?page=3&page_size=10")
	q, _ := ParsePageQuery(r.URL.Query(), nil)
	_, err = NewPage(pgAppURL(), r, q, 20, []int{})
	bindWantError(t, err, http.StatusNotFound, CodeNotFound, "Invalid page.")
	bindWantError(t, CheckPageInRange(q, 20), http.StatusNotFound, CodeNotFound, "Invalid page.")
	if CheckPageInRange(q, 21) != nil || CheckPageInRange(q, 0) != nil {
		t.Fatal("page 3 of 21 rows (size 10) exists; empty collections never 404")
	}
	if q.LastPage(0) != 1 || q.LastPage(20) != 2 || q.LastPage(21) != 3 {
		t.Fatal("LastPage")
	}
}

func pgAppURL() string { return "https://auth.example.com" }

func TestQueryBoolAndChoice(t *testing.T) {
	q := pgQuery(t, "a=true&b=FALSE&c=yes&d=1&e=&s=Pending&t=pending")
	errs := FieldErrors{}
	if v, p := QueryBool(q, "a", errs); !v || !p {
		t.Fatal("a")
	}
	if _, p := QueryBool(q, "b", errs); p {
		t.Fatal("FALSE is not a boolean of §1.8 (true/false)")
	}
	if _, p := QueryBool(q, "missing", errs); p {
		t.Fatal("missing")
	}
	if _, p := QueryBool(q, "e", errs); p {
		t.Fatal("empty is not a filter")
	}
	QueryBool(q, "c", errs)
	QueryBool(q, "d", errs)
	choices := []string{"Pending", "Approved", "Rejected"}
	if v, p := QueryChoice(q, "s", choices, errs); v != "Pending" || !p {
		t.Fatal("s")
	}
	if _, p := QueryChoice(q, "missing", choices, errs); p {
		t.Fatal("missing choice")
	}
	if _, p := QueryChoice(q, "t", choices, errs); p {
		t.Fatal("t")
	}
	bindWantFields(t, errs.Err(), FieldErrors{
		"b": {"Must be a valid boolean."},
		"c": {"Must be a valid boolean."},
		"d": {"Must be a valid boolean."},
		"t": {`"pending" is not a valid choice.`},
	})
	// A nil errs map is tolerated.
	QueryBool(q, "c", nil)
	QueryChoice(q, "t", choices, nil)
}
