package apikit

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

func bindEvent(method, contentType string, body io.Reader) *core.RequestEvent {
	req := httptest.NewRequest(method, "/api/v1/test/", body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	return &core.RequestEvent{Event: router.Event{Request: req, Response: rec}}
}

func bindJSON(t *testing.T, s string) *Body {
	t.Helper()
	b, err := ReadBody(bindEvent(http.MethodPost, "application/json", strings.NewReader(s)), 0)
	if err != nil {
		t.Fatalf("ReadBody(%s): %v", s, err)
	}
	return b
}

func bindForm(t *testing.T, s string) *Body {
	t.Helper()
	b, err := ReadBody(bindEvent(http.MethodPost, "application/x-www-form-urlencoded", strings.NewReader(s)), BodyForm)
	if err != nil {
		t.Fatalf("ReadBody(form %s): %v", s, err)
	}
	return b
}

func bindWantError(t *testing.T, err error, status int, code, detail string) *Error {
	t.Helper()
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *Error %d %s, got %v", status, code, err)
	}
	if apiErr.Status != status || apiErr.Code != code || apiErr.Detail != detail {
		t.Fatalf("want %d %s %q, got %d %s %q", status, code, detail, apiErr.Status, apiErr.Code, apiErr.Detail)
	}
	return apiErr
}

func bindWantFields(t *testing.T, err error, want FieldErrors) {
	t.Helper()
	apiErr := bindWantError(t, err, http.StatusBadRequest, CodeInvalid, DetailInvalid)
	if !reflect.DeepEqual(apiErr.Fields, want) {
		t.Fatalf("field errors:\n got %#v\nwant %#v", apiErr.Fields, want)
	}
}

func TestBodyEmptyAnyContentType(t *testing.T) {
	for _, ct := range []string{"", "text/plain", "application/json", "application/xml", "multipart/form-data"} {
		b, err := ReadBody(bindEvent(http.MethodPost, ct, nil), 0)
		if err != nil {
			t.Fatalf("%q: %v", ct, err)
		}
		if !b.IsEmpty() || b.IsJSON() || b.Has("email") || b.Err() != nil {
			t.Fatalf("%q: not an empty body", ct)
		}
		// A reader that yields no bytes with an unknown length (chunked) is empty too.
		e := bindEvent(http.MethodPost, ct, strings.NewReader(""))
		e.Request.ContentLength = -1
		e.Request.Body = io.NopCloser(strings.NewReader(""))
		if b, err := ReadBody(e, 0); err != nil || !b.IsEmpty() {
			t.Fatalf("%q chunked empty: %v", ct, err)
		}
	}
	// Required fields of an empty body are missing.
	b, _ := ReadBody(bindEvent(http.MethodPost, "text/plain", nil), 0)
	b.String("email", Str{Required: true})
	bindWantFields(t, b.Err(), FieldErrors{"email": {"This field is required."}})
}

func TestBodyUnsupportedMediaType(t *testing.T) {
	cases := []struct {
		ct       string
		accepted BodyKinds
		want     string
	}{
		{"text/plain", 0, `Unsupported media type "text/plain" in request.`},
		{"text/plain; charset=utf-8", BodyForm | BodyMultipart, `Unsupported media type "text/plain" in request.`},
		{"", 0, `Unsupported media type "" in request.`},
		{"application/x-www-form-urlencoded", 0, `Unsupported media type "application/x-www-form-urlencoded" in request.`},
		{"multipart/form-data; boundary=x", BodyForm, `Unsupported media type "multipart/form-data" in request.`},
		{"application/x-www-form-urlencoded", BodyMultipart, `Unsupported media type "application/x-www-form-urlencoded" in request.`},
		{"Application/XML", 0, `Unsupported media type "application/xml" in request.`},
	}
	for _, c := range cases {
		_, err := ReadBody(bindEvent(http.MethodPost, c.ct, strings.NewReader("a=b")), c.accepted)
		bindWantError(t, err, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, c.want)
	}
}

func TestBodyJSONContentTypes(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		b, err := ReadBody(bindEvent(http.MethodPost, ct, strings.NewReader(`{"a":"b"}`)), 0)
		if err != nil || !b.IsJSON() || !b.Has("a") {
			t.Fatalf("%q: %v", ct, err)
		}
	}
}

func TestBodyMalformedJSON(t *testing.T) {
	for _, s := range []string{`[]`, `"x"`, `1`, `null`, `true`, `{`, `{"a":1,}`, `{"a":1} {}`, `{'a':1}`, `nope`, "\ufeff{}"} {
		_, err := ReadBody(bindEvent(http.MethodPost, "application/json", strings.NewReader(s)), 0)
		bindWantFields(t, err, FieldErrors{"non_field_errors": {"Malformed JSON request body."}})
	}
	// Whitespace around an object is fine.
	if b := bindJSON(t, " \n{\"a\": \"b\"}\n "); !b.Has("a") {
		t.Fatal("whitespace-padded object not bound")
	}
}

// A body that breaks off or is framed wrongly (net/http reports a bad chunk or a short
// Content-Length when the handler reads) is a 400 of the body's kind, never a 500.
func TestBodyBrokenOffIsMalformed(t *testing.T) {
	for ct, msg := range map[string]string{"application/json": MsgMalformedJSON, "multipart/form-data; boundary=x": MsgMalformedMulti} {
		body := io.MultiReader(strings.NewReader(`{"token": "ab`), iotest.ErrReader(io.ErrUnexpectedEOF))
		_, err := ReadBody(bindEvent(http.MethodPost, ct, body), BodyMultipart)
		bindWantFields(t, err, FieldErrors{"non_field_errors": {msg}})
	}
}

func TestBodyJSONKeysCaseSensitiveAndLastWins(t *testing.T) {
	b := bindJSON(t, `{"EMAIL":"x@example.com","Is_Superuser":true,"name":"first","name":"second"}`)
	if b.Has("email") || b.Has("is_superuser") {
		t.Fatal("keys differing only in case must not bind")
	}
	if v, ok := b.Email("email", false); ok || v != "" {
		t.Fatalf("email bound from EMAIL: %q", v)
	}
	if v, _ := b.String("name", Str{}); v != "second" {
		t.Fatalf("last duplicate must win, got %q", v)
	}
	keys := b.Keys()
	if len(keys) != 3 {
		t.Fatalf("keys: %v", keys)
	}
	if _, ok := b.Raw("Is_Superuser"); !ok {
		t.Fatal("Raw lookup")
	}
	b.Email("email", true)
	bindWantFields(t, b.Err(), FieldErrors{"email": {"This field is required."}})
}

func TestBodyStringRules(t *testing.T) {
	b := bindJSON(t, `{
		"num": 5, "bool": true, "obj": {}, "list": [], "null": null, "nullable": null,
		"blank": "   ", "allowblank": "  ", "raw": "  pw  ", "rawempty": "",
		"trim": "  hi  ", "long": "ééééé", "ok": "éééé",
		"choice": " Jr. ", "badchoice": "Esq.", "clearchoice": "",
		"custom": null, "newpw": ""
	}`)
	check := func(name string, r Str, wantVal string, wantPresent bool) {
		t.Helper()
		v, p := b.String(name, r)
		if v != wantVal || p != wantPresent {
			t.Fatalf("%s: got (%q, %v), want (%q, %v)", name, v, p, wantVal, wantPresent)
		}
	}
	check("missing", Str{Required: true}, "", false)
	check("optional", Str{}, "", false)
	check("num", Str{}, "", true)
	check("bool", Str{}, "", true)
	check("obj", Str{}, "", true)
	check("list", Str{}, "", true)
	check("null", Str{}, "", true)
	check("nullable", Str{Nullable: true}, "", true)
	check("blank", Str{Required: true}, "", true)
	check("allowblank", Str{AllowBlank: true}, "", true)
	check("raw", Str{Raw: true}, "  pw  ", true)
	check("rawempty", Str{Raw: true}, "", true)
	check("trim", Str{}, "hi", true)
	check("long", Str{Max: 4}, "", true)
	check("ok", Str{Max: 4}, "éééé", true)
	choices := []string{"Jr.", "Sr.", "II", "III", "IV", "V"}
	check("choice", Str{Choices: choices, Nullable: true}, "Jr.", true)
	check("badchoice", Str{Choices: choices, Nullable: true}, "", true)
	check("clearchoice", Str{Choices: choices, Nullable: true}, "", true)
	check("custom", Str{RequiredMsg: "Custom required."}, "", true)
	check("newpw", Str{Raw: true, Required: true, BlankMsg: "This field is required."}, "", true)

	bindWantFields(t, b.Err(), FieldErrors{
		"missing":   {"This field is required."},
		"num":       {"Not a valid string."},
		"bool":      {"Not a valid string."},
		"obj":       {"Not a valid string."},
		"list":      {"Not a valid string."},
		"null":      {"This field is required."},
		"blank":     {"This field may not be blank."},
		"rawempty":  {"This field may not be blank."},
		"long":      {"Ensure this field has no more than 4 characters."},
		"badchoice": {`"Esq." is not a valid choice.`},
		"custom":    {"Custom required."},
		"newpw":     {"This field is required."},
	})
}

func TestBodyStringFirstRuleOnly(t *testing.T) {
	// Too long AND not a choice: only the max message. Reading twice adds nothing.
	b := bindJSON(t, `{"suffix":"Esquire the Third"}`)
	b.String("suffix", Str{Max: 5, Choices: []string{"Jr."}})
	b.String("suffix", Str{Max: 5, Choices: []string{"Jr."}})
	bindWantFields(t, b.Err(), FieldErrors{"suffix": {"Ensure this field has no more than 5 characters."}})
	// Choices are quoted verbatim.
	b = bindJSON(t, `{"s":"a \"q\""}`)
	b.String("s", Str{Choices: []string{"x"}})
	bindWantFields(t, b.Err(), FieldErrors{"s": {`"a "q"" is not a valid choice.`}})
	if bindJSON(t, `{}`).Err() != nil {
		t.Fatal("Err with no failures must be nil")
	}
}

func TestBodyBool(t *testing.T) {
	b := bindJSON(t, `{"t":true,"f":false,"s":"true","n":1,"null":null}`)
	if v, p := b.Bool("t", true); !v || !p {
		t.Fatal("true")
	}
	if v, p := b.Bool("f", true); v || !p {
		t.Fatal("false")
	}
	b.Bool("s", false)
	b.Bool("n", false)
	b.Bool("null", false)
	b.Bool("missing", true)
	if _, p := b.Bool("absent", false); p {
		t.Fatal("absent optional must not be present")
	}
	bindWantFields(t, b.Err(), FieldErrors{
		"s":       {"Must be a valid boolean."},
		"n":       {"Must be a valid boolean."},
		"null":    {"This field is required."},
		"missing": {"This field is required."},
	})
}

func TestBodyFormBooleans(t *testing.T) {
	b := bindForm(t, "a=true&b=FALSE&c=1&d=0&e=True&f=yes&g=&h=2&a=false")
	want := map[string]bool{"a": true, "b": false, "c": true, "d": false, "e": true}
	for name, w := range want {
		if v, p := b.Bool(name, true); v != w || !p {
			t.Fatalf("%s: got %v %v", name, v, p)
		}
	}
	b.Bool("f", false)
	b.Bool("g", false)
	b.Bool("h", false)
	bindWantFields(t, b.Err(), FieldErrors{
		"f": {"Must be a valid boolean."},
		"g": {"Must be a valid boolean."},
		"h": {"Must be a valid boolean."},
	})
}

func TestBodyFormValues(t *testing.T) {
	b := bindForm(t, "email=+Alice%40Example.COM+&role_id=abc&role_id=def&settings=%7B%7D&items=1&n=42&bad%zz=1")
	if b.IsJSON() || b.IsEmpty() {
		t.Fatal("form body kind")
	}
	if v, p := b.Email("email", true); v != "alice@example.com" || !p {
		t.Fatalf("email: %q", v)
	}
	if v, _ := b.String("role_id", Str{Required: true}); v != "abc" {
		t.Fatalf("form: first value wins, got %q", v)
	}
	if v, _ := b.Int("n", true); v != 42 {
		t.Fatalf("form int: %d", v)
	}
	b.Object("settings", false)
	b.List("items", false)
	bindWantFields(t, b.Err(), FieldErrors{
		"settings": {"Expected a JSON object."},
		"items":    {"Expected a list of items."},
	})
}

func TestBodyInt(t *testing.T) {
	b := bindJSON(t, `{"a":5,"b":-3,"c":7.0,"d":1.5,"e":"5","f":true,"g":1e2,"h":99999999999999999999,"i":null,"j":[1]}`)
	for name, want := range map[string]int64{"a": 5, "b": -3, "c": 7} {
		if v, p := b.Int(name, true); v != want || !p {
			t.Fatalf("%s: %d %v", name, v, p)
		}
	}
	for _, n := range []string{"d", "e", "f", "g", "h", "i", "j", "missing"} {
		b.Int(n, true)
	}
	bindWantFields(t, b.Err(), FieldErrors{
		"d":       {"A valid integer is required."},
		"e":       {"A valid integer is required."},
		"f":       {"A valid integer is required."},
		"g":       {"A valid integer is required."},
		"h":       {"A valid integer is required."},
		"i":       {"This field is required."},
		"j":       {"A valid integer is required."},
		"missing": {"This field is required."},
	})
	fb := bindForm(t, "x=abc&y=1.5")
	fb.Int("x", true)
	fb.Int("y", true)
	bindWantFields(t, fb.Err(), FieldErrors{"x": {"A valid integer is required."}, "y": {"A valid integer is required."}})
}

func TestBodyObjectAndList(t *testing.T) {
	b := bindJSON(t, `{"settings":{"is_deployed":true,"n":2},"ids":["a","b"],"empty":[],"str":"{}","arr":[],"obj":{},"nul":null}`)
	m, raw, p := b.Object("settings", true)
	if !p || m["is_deployed"] != true || m["n"] != float64(2) || string(raw) != `{"is_deployed":true,"n":2}` {
		t.Fatalf("object: %v %s %v", m, raw, p)
	}
	items, p := b.List("ids", true)
	if !p || len(items) != 2 || string(items[0]) != `"a"` {
		t.Fatalf("list: %v", items)
	}
	if items, p := b.List("empty", true); !p || items == nil || len(items) != 0 {
		t.Fatal("empty list")
	}
	b.Object("str", false)
	b.Object("arr", false)
	b.Object("nul", false)
	b.Object("gone", true)
	b.List("str2", false)
	b.List("obj", false)
	b.List("str", false) // "str" already failed: no second message
	bindWantFields(t, b.Err(), FieldErrors{
		"str":  {"Expected a JSON object."},
		"arr":  {"Expected a JSON object."},
		"nul":  {"This field is required."},
		"gone": {"This field is required."},
		"obj":  {"Expected a list of items."},
	})
}

func TestBodyEmail(t *testing.T) {
	valid := map[string]string{
		" Alice@Example.COM ":        "alice@example.com",
		"a.b+c@sub.example.co":       "a.b+c@sub.example.co",
		"o'neil@example.org":         "o'neil@example.org",
		"user@xn--bcher-kva.example": "user@xn--bcher-kva.example",
	}
	for in, want := range valid {
		b := bindJSON(t, `{"email":`+bindQuoteJSON(in)+`}`)
		if v, p := b.Email("email", true); v != want || !p || b.Err() != nil {
			t.Fatalf("%q: got %q %v %v", in, v, p, b.Err())
		}
	}
	invalid := []string{
		"plainaddress", "@example.com", "user@", "user@@example.com", "a b@example.com",
		"Alice <alice@example.com>", "user@example", "user@example.c", "user@-example.com",
		"user@example.com-", ".user@example.com", "user.@example.com", "us..er@example.com",
		"user@exa_mple.com", "user@[300.1.1.1]", "usér@example.com", "user@example..com",
		// Django's validator takes these, PocketBase's email fields do not (a save would fail)
		"user@localhost", "user@[127.0.0.1]", "user@b.co1",
	}
	for _, in := range invalid {
		b := bindJSON(t, `{"email":`+bindQuoteJSON(in)+`}`)
		b.Email("email", true)
		bindWantFields(t, b.Err(), FieldErrors{"email": {"Enter a valid email address."}})
	}
	long := strings.Repeat("a", 243) + "@example.com" // 255 characters
	b := bindJSON(t, `{"email":"`+long+`","longbad":"`+strings.Repeat("a", 300)+`","blank":" ","num":1,"nul":null}`)
	b.Email("email", true)
	b.Email("longbad", true)
	b.Email("blank", true)
	b.Email("num", true)
	b.Email("nul", false)
	b.Email("missing", true)
	bindWantFields(t, b.Err(), FieldErrors{
		"email":   {"Ensure this field has no more than 254 characters."},
		"longbad": {"Enter a valid email address.", "Ensure this field has no more than 254 characters."},
		"blank":   {"This field may not be blank."},
		"num":     {"Not a valid string."},
		"nul":     {"This field is required."},
		"missing": {"This field is required."},
	})
	ok := strings.Repeat("a", 242) + "@example.com" // 254 characters
	b = bindJSON(t, `{"email":"`+ok+`"}`)
	if v, _ := b.Email("email", true); v != ok || b.Err() != nil {
		t.Fatal("254 characters must pass")
	}
}

func bindQuoteJSON(s string) string {
	var buf bytes.Buffer
	buf.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			buf.WriteByte('\\')
		}
		buf.WriteRune(r)
	}
	buf.WriteByte('"')
	return buf.String()
}

func TestBodyUsername(t *testing.T) {
	b := bindJSON(t, `{"u1":" john.doe+x@y-z_1 ","u2":"john doe","u3":"jöhn","u4":"","u5":"`+strings.Repeat("a", 151)+`","u6":"`+strings.Repeat("a", 150)+`","u7":"a!","u8":"`+strings.Repeat("a", 150)+`!"}`)
	if v, p := b.Username("u1", true); v != "john.doe+x@y-z_1" || !p {
		t.Fatalf("u1: %q", v)
	}
	if v, _ := b.Username("u6", true); v != strings.Repeat("a", 150) {
		t.Fatal("150 characters must pass")
	}
	for _, n := range []string{"u2", "u3", "u4", "u5", "u7", "u8", "missing"} {
		b.Username(n, true)
	}
	if _, p := b.Username("absent", false); p {
		t.Fatal("absent optional username")
	}
	msg := "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
	bindWantFields(t, b.Err(), FieldErrors{
		"u2":      {msg},
		"u3":      {msg},
		"u4":      {"This field may not be blank."},
		"u5":      {"Ensure this field has no more than 150 characters."},
		"u7":      {msg},
		"u8":      {"Ensure this field has no more than 150 characters.", msg},
		"missing": {"This field is required."},
	})
}

func TestPhoneNormalize(t *testing.T) {
	cases := map[string]struct {
		want string
		ok   bool
	}{
		"+15551234567":      {"+15551234567", true},
		"+1 (555) 123-4567": {"+15551234567", true},
		"09123456789":       {"+639123456789", true},
		"0912-345-6789":     {"+639123456789", true},
		" (0912) 345 6789 ": {"+639123456789", true},
		"+123456789012345":  {"+123456789012345", true},
		"+1234567890123456": {"", false},
		"+123456789":        {"", false},
		"+0123456789":       {"", false},
		"9123456789":        {"", false},
		"0912345678":        {"", false},
		"091234567890":      {"", false},
		"08123456789":       {"", false},
		"+63 912 345 6789x": {"", false},
		"+63.912.345.6789":  {"", false},
		"":                  {"", true},
		"   ":               {"", true},
		"+１５５５１２３４５６７":      {"", false},
	}
	for in, c := range cases {
		got, ok := NormalizePhone(in)
		if got != c.want || ok != c.ok {
			t.Fatalf("NormalizePhone(%q) = %q %v, want %q %v", in, got, ok, c.want, c.ok)
		}
	}

	b := bindJSON(t, `{"a":"0912 345 6789","b":null,"c":"","d":"12345","e":639123456789}`)
	if v, p := b.Phone("a"); v != "+639123456789" || !p {
		t.Fatalf("a: %q", v)
	}
	if v, p := b.Phone("b"); v != "" || !p {
		t.Fatal("null clears")
	}
	if v, p := b.Phone("c"); v != "" || !p {
		t.Fatal(`"" clears`)
	}
	if _, p := b.Phone("missing"); p {
		t.Fatal("absent phone")
	}
	b.Phone("d")
	b.Phone("e")
	bindWantFields(t, b.Err(), FieldErrors{
		"d": {"Phone number must be in E.164 format (e.g., +15551234567) or 11 digits starting with 09 (e.g., 09123456789)."},
		"e": {"Not a valid string."},
	})
}

type bindPart struct {
	name, filename string
	content        []byte
}

func bindMultipartEvent(t *testing.T, parts []bindPart) *core.RequestEvent {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" || p.content == nil {
			disp := `form-data; name="` + p.name + `"`
			if p.content == nil || p.filename != "" {
				disp += `; filename="` + p.filename + `"`
			}
			h.Set("Content-Disposition", disp)
			h.Set("Content-Type", "application/octet-stream")
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"`)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(p.content)
	}
	w.Close()
	return bindEvent(http.MethodPatch, w.FormDataContentType(), &buf)
}

func TestBodyMultipartFile(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake")
	e := bindMultipartEvent(t, []bindPart{
		{name: "first_name", content: []byte(" Ann ")},
		{name: "first_name", content: []byte("Second")},
		{name: "notified", content: []byte("TRUE")},
		{name: "profile_picture", filename: "me.png", content: png},
		{name: "profile_picture", filename: "other.png", content: []byte("x")},
	})
	b, err := ReadBody(e, BodyMultipart)
	if err != nil {
		t.Fatal(err)
	}
	if b.IsJSON() || !b.Has("profile_picture") || !b.Has("first_name") || b.Has("last_name") {
		t.Fatal("multipart presence")
	}
	keys := b.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"first_name", "notified", "profile_picture"}) {
		t.Fatalf("multipart keys: %v", keys)
	}
	if _, ok := b.Raw("first_name"); ok {
		t.Fatal("Raw is for JSON bodies only")
	}
	if v, _ := b.String("first_name", Str{Max: 100}); v != "Ann" {
		t.Fatalf("first value, trimmed: %q", v)
	}
	if v, _ := b.Bool("notified", true); !v {
		t.Fatal("multipart boolean")
	}
	fh, present, clear := b.File("profile_picture")
	if fh == nil || !present || clear || fh.Filename != "me.png" || fh.Size != int64(len(png)) {
		t.Fatalf("file part: %+v %v %v", fh, present, clear)
	}
	f, err := fh.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, png) {
		t.Fatal("file content")
	}
	if _, present, _ := b.File("absent"); present {
		t.Fatal("absent file")
	}
	// A file-only key read as a string is not a string.
	b.String("profile_picture", Str{})
	bindWantFields(t, b.Err(), FieldErrors{"profile_picture": {"Not a valid string."}})
}

func TestBodyMultipartEmptyPartClears(t *testing.T) {
	// Browser with no file chosen: filename="" and no content.
	b, err := ReadBody(bindMultipartEvent(t, []bindPart{{name: "profile_picture"}}), BodyMultipart)
	if err != nil {
		t.Fatal(err)
	}
	if fh, present, clear := b.File("profile_picture"); fh != nil || !present || !clear {
		t.Fatalf("empty part: %v %v %v", fh, present, clear)
	}
	// A named file with no bytes clears too.
	b, _ = ReadBody(bindMultipartEvent(t, []bindPart{{name: "profile_picture", filename: "x.png", content: []byte{}}}), BodyMultipart)
	if fh, present, clear := b.File("profile_picture"); fh != nil || !present || !clear {
		t.Fatalf("empty file: %v %v %v", fh, present, clear)
	}
	// A text part with a value is not a file.
	b, _ = ReadBody(bindMultipartEvent(t, []bindPart{{name: "profile_picture", content: []byte("hello")}}), BodyMultipart)
	if _, present, clear := b.File("profile_picture"); !present || clear {
		t.Fatal("text part")
	}
	bindWantFields(t, b.Err(), FieldErrors{"profile_picture": {"Invalid image file."}})
}

func TestBodyJSONFile(t *testing.T) {
	b := bindJSON(t, `{"profile_picture":null,"other":"data:image/png;base64,xx"}`)
	if fh, present, clear := b.File("profile_picture"); fh != nil || !present || !clear {
		t.Fatal("JSON null clears")
	}
	b.File("other")
	bindWantFields(t, b.Err(), FieldErrors{"other": {"Invalid image file."}})
}

func TestBodyMalformedMultipart(t *testing.T) {
	_, err := ReadBody(bindEvent(http.MethodPost, "multipart/form-data", strings.NewReader("garbage")), BodyMultipart)
	bindWantFields(t, err, FieldErrors{"non_field_errors": {"Malformed multipart request body."}})
	_, err = ReadBody(bindEvent(http.MethodPost, "multipart/form-data; boundary=xyz", strings.NewReader("garbage")), BodyMultipart)
	bindWantFields(t, err, FieldErrors{"non_field_errors": {"Malformed multipart request body."}})
}

func TestBodyTooLarge(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	e := bindEvent(http.MethodPost, "application/json", strings.NewReader(big))
	e.Request.Body = http.MaxBytesReader(e.Response, e.Request.Body, 1024)
	_, err := ReadBody(e, 0)
	bindWantError(t, err, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large.")

	// 413 comes before 415: an oversized body of an unsupported type is still 413.
	e = bindEvent(http.MethodPost, "text/plain", strings.NewReader(big))
	e.Request.Body = http.MaxBytesReader(e.Response, e.Request.Body, 1024)
	_, err = ReadBody(e, 0)
	bindWantError(t, err, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large.")

	// A body exactly at the limit passes.
	e = bindEvent(http.MethodPost, "application/json", strings.NewReader(big))
	e.Request.Body = http.MaxBytesReader(e.Response, e.Request.Body, int64(len(big)))
	if b, err := ReadBody(e, 0); err != nil || !b.Has("a") {
		t.Fatalf("at limit: %v", err)
	}

	// PocketBase's own limiter error maps to 413 too.
	e = bindEvent(http.MethodPost, "application/json", strings.NewReader(big))
	e.Request.Body = io.NopCloser(io.MultiReader(strings.NewReader("{"), bindErrReader{router.NewApiError(http.StatusRequestEntityTooLarge, "too large", nil)}))
	_, err = ReadBody(e, 0)
	bindWantError(t, err, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large.")
}

type bindErrReader struct{ err error }

func (r bindErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestBodyRereadable(t *testing.T) {
	e := bindEvent(http.MethodPost, "application/json", strings.NewReader(`{"a":1}`))
	if _, err := ReadBody(e, 0); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(e.Request.Body)
	if string(got) != `{"a":1}` {
		t.Fatalf("body not restored: %q", got)
	}
}

func TestBodyTextIsTheSubmittedString(t *testing.T) {
	j := bindJSON(t, `{"a":"  Al.Ice@Example.com ","b":5,"c":null,"d":"x\u00e9"}`)
	f := bindForm(t, "a=+Bob+&c=")
	for _, c := range []struct {
		b    *Body
		name string
		want string
	}{{j, "a", "Al.Ice@Example.com"}, {j, "b", ""}, {j, "c", ""}, {j, "d", "xé"}, {j, "missing", ""}, {f, "a", "Bob"}, {f, "c", ""}, {f, "missing", ""}} {
		if got := c.b.Text(c.name); got != c.want {
			t.Fatalf("Text(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	if len(j.Errors) != 0 {
		t.Fatalf("Text recorded errors: %v", j.Errors)
	}
}

// A small multipart body with more parts than Go's parser takes (1,000) is a 400 naming the
// cause, not the 413 of a body over MaxBodyBytes (§1.2): it was ~100 KB.
func TestBodyMultipartTooManyParts(t *testing.T) {
	parts := make([]bindPart, 1001)
	for i := range parts {
		parts[i] = bindPart{name: "f" + strconv.Itoa(i), content: []byte("x")}
	}
	_, err := ReadBody(bindMultipartEvent(t, parts), BodyMultipart)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !slices.Equal(apiErr.Fields["non_field_errors"], []string{MsgTooManyParts}) {
		t.Fatalf("1,001 parts: %v", err)
	}
	if _, err := ReadBody(bindMultipartEvent(t, parts[:999]), BodyMultipart); err != nil {
		t.Fatalf("999 parts: %v", err)
	}
}
