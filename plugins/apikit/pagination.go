package apikit

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pagination defaults of §1.8.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	MaxSearchLength = 100
	// DetailInvalidPage is the 404 detail for a page past the last one.
	DetailInvalidPage = "Invalid page."
)

// OrderField is one term of the ordering parameter.
type OrderField struct {
	Field string
	Desc  bool
}

// PageQuery is the validated page, page_size, search and ordering of a list request (§1.8).
type PageQuery struct {
	Page     int
	Size     int
	Search   string       // trimmed; "" = no search
	Ordering []OrderField // as requested; empty = the endpoint's default
}

// Offset is the number of rows before the page (saturating instead of overflowing).
func (q PageQuery) Offset() int {
	if q.Page <= 1 || q.Size <= 0 {
		return 0
	}
	if q.Page-1 > math.MaxInt/q.Size {
		return math.MaxInt
	}
	return (q.Page - 1) * q.Size
}

// LastPage is the number of the last page for count rows (1 when there are none).
func (q PageQuery) LastPage(count int) int {
	size := q.Size
	if size <= 0 {
		size = DefaultPageSize
	}
	if count <= 0 {
		return 1
	}
	return (count-1)/size + 1
}

var queryIntRe = regexp.MustCompile(`^[+-]?\d+$`)

// parsePositive parses a page or page_size value: an integer ≥ 1. A well-formed integer too
// large for int saturates to math.MaxInt (it is an integer, just a huge one).
func parsePositive(s string) (int, bool) {
	if !queryIntRe.MatchString(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		if s[0] == '-' {
			return 0, false
		}
		return math.MaxInt, true
	}
	if n < 1 {
		return 0, false
	}
	return n, true
}

// ParsePageQuery validates the pagination parameters of §1.8: page (integer ≥ 1, default 1),
// page_size (integer ≥ 1, default 50, clamped to 200), search (trimmed, ≤ 100 characters) and
// ordering (comma-separated names from allowedOrdering, each optionally prefixed with "-";
// empty terms are skipped, a repeated field keeps its first occurrence). All failures are
// reported together in one 400 invalid. When a parameter is repeated its first value is used.
func ParsePageQuery(q url.Values, allowedOrdering []string) (PageQuery, error) {
	pq := PageQuery{Page: 1, Size: DefaultPageSize}
	errs := FieldErrors{}

	if vs, ok := q["page"]; ok && len(vs) > 0 {
		if n, ok := parsePositive(vs[0]); ok {
			pq.Page = n
		} else {
			errs.Add("page", MsgNotInt)
		}
	}
	if vs, ok := q["page_size"]; ok && len(vs) > 0 {
		if n, ok := parsePositive(vs[0]); ok {
			pq.Size = min(n, MaxPageSize)
		} else {
			errs.Add("page_size", MsgNotInt)
		}
	}
	if s := strings.TrimSpace(q.Get("search")); s != "" {
		if utf8.RuneCountInString(s) > MaxSearchLength {
			errs.Add("search", MsgMaxLength(MaxSearchLength))
		} else {
			pq.Search = s
		}
	}
	if o := q.Get("ordering"); o != "" {
		seen := map[string]bool{}
		for _, term := range strings.Split(o, ",") {
			term = strings.TrimSpace(term)
			if term == "" {
				continue
			}
			name, desc := strings.CutPrefix(term, "-")
			if !containsString(allowedOrdering, name) {
				if name == "" {
					name = term
				}
				errs.Add("ordering", "Invalid ordering field: "+name+".")
				break
			}
			if !seen[name] {
				seen[name] = true
				pq.Ordering = append(pq.Ordering, OrderField{Field: name, Desc: desc})
			}
		}
	}
	if len(errs) > 0 {
		return pq, Invalid(errs)
	}
	return pq, nil
}

// Page is the Page<T> object of §4.13.
type Page[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// CheckPageInRange is the 404 rule of §1.8: a page after the last one while count > 0.
func CheckPageInRange(q PageQuery, count int) error {
	if count > 0 && q.Page > q.LastPage(count) {
		return NotFound(DetailInvalidPage)
	}
	return nil
}

// NewPage builds the Page<T> of §1.8 for the request r: next and previous are appURL + the
// slash form of the request path + "?" + the request's query parameters in their original order
// with page replaced in place (later repetitions of page dropped) or appended last, all
// form-encoded. It answers 404 "Invalid page." for a page after the last one while count > 0.
// results nil gives "results": [].
func NewPage[T any](appURL string, r *http.Request, q PageQuery, count int, results []T) (Page[T], error) {
	if err := CheckPageInRange(q, count); err != nil {
		return Page[T]{}, err
	}
	if results == nil {
		results = []T{}
	}
	p := Page[T]{Count: count, Results: results}
	if count > 0 && q.Page < q.LastPage(count) {
		u := pageURL(appURL, r, q.Page+1)
		p.Next = &u
	}
	if q.Page > 1 {
		u := pageURL(appURL, r, q.Page-1)
		p.Previous = &u
	}
	return p, nil
}

type queryPair struct{ key, value string }

// orderedQuery parses a raw query keeping the order of its pairs (url.Values loses it). Pairs
// that do not decode are dropped, as url.ParseQuery drops them.
func orderedQuery(raw string) []queryPair {
	var out []queryPair
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" || strings.Contains(seg, ";") {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, queryPair{k, v})
	}
	return out
}

func pageURL(appURL string, r *http.Request, page int) string {
	path := r.URL.EscapedPath()
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	var sb strings.Builder
	sb.WriteString(strings.TrimRight(appURL, "/"))
	sb.WriteString(path)
	sb.WriteByte('?')
	replaced := false
	first := true
	write := func(k, v string) {
		if !first {
			sb.WriteByte('&')
		}
		first = false
		sb.WriteString(url.QueryEscape(k))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(v))
	}
	for _, kv := range orderedQuery(r.URL.RawQuery) {
		if kv.key == "page" {
			if replaced {
				continue
			}
			replaced = true
			kv.value = strconv.Itoa(page)
		}
		write(kv.key, kv.value)
	}
	if !replaced {
		write("page", strconv.Itoa(page))
	}
	return sb.String()
}

// QueryBool reads a boolean filter (§1.8): exactly true or false, as the contract writes them
// (case-sensitive like QueryChoice). Another value ("TRUE", "1") adds "Must be a valid
// boolean." to errs. An absent or empty parameter is not a filter.
func QueryBool(q url.Values, name string, errs FieldErrors) (bool, bool) {
	v := q.Get(name)
	if v == "" {
		return false, false
	}
	switch v {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	if errs != nil {
		errs.Add(name, MsgNotBool)
	}
	return false, false
}

// QueryChoice reads a filter with a fixed set of values (§1.8, case-sensitive). Another value
// adds `"<v>" is not a valid choice.` to errs. An absent or empty parameter is not a filter.
func QueryChoice(q url.Values, name string, choices []string, errs FieldErrors) (string, bool) {
	v := q.Get(name)
	if v == "" {
		return "", false
	}
	if containsString(choices, v) {
		return v, true
	}
	if errs != nil {
		errs.Add(name, MsgInvalidChoice(v))
	}
	return "", false
}
