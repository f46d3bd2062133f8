package apikit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/ozzo-validation/v4/is"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Standard validation messages of §1.4 and §1.16 used by the binder.
const (
	MsgRequired       = "This field is required."
	MsgBlank          = "This field may not be blank."
	MsgNotString      = "Not a valid string."
	MsgNotBool        = "Must be a valid boolean."
	MsgNotInt         = "A valid integer is required."
	MsgNotObject      = "Expected a JSON object."
	MsgNotList        = "Expected a list of items."
	MsgInvalidEmail   = "Enter a valid email address."
	MsgInvalidUser    = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."
	MsgInvalidPhone   = "Phone number must be in E.164 format (e.g., +15551234567) or 11 digits starting with 09 (e.g., 09123456789)."
	MsgInvalidImage   = "Invalid image file."
	MsgMalformedJSON  = "Malformed JSON request body."
	MsgMalformedMulti = "Malformed multipart request body."
	MsgTooManyParts   = "Multipart request body has too many parts (at most 1,000)."
)

// MsgMaxLength is "Ensure this field has no more than <n> characters.".
func MsgMaxLength(n int) string {
	return "Ensure this field has no more than " + strconv.Itoa(n) + " characters."
}

// MsgInvalidChoice is `"<v>" is not a valid choice.` (the value is quoted verbatim, not escaped).
func MsgInvalidChoice(v string) string { return `"` + v + `" is not a valid choice.` }

// BodyKinds is the set of request-body formats an endpoint takes besides JSON (§1.2).
type BodyKinds uint8

const (
	BodyJSON      BodyKinds = 1 << iota // application/json (always accepted)
	BodyForm                            // application/x-www-form-urlencoded
	BodyMultipart                       // multipart/form-data
)

// bindBackstopLimit caps a body whose reader the caller did not limit (the route table limits
// every body to the sizes of §1.2 before the handler runs; this only bounds memory).
const bindBackstopLimit = 32 << 20

type bodyKind uint8

const (
	kindEmpty bodyKind = iota
	kindJSON
	kindForm
	kindMultipart
)

// Body is a parsed request body. Its readers record at most one message per field in Errors
// (the first failing rule, in the order required → type → blank → max → choices/format); Err
// turns them into the 400 invalid of §1.3. Every reader returns the value and whether the key
// was present, so PATCH handlers can tell an absent field from a present one.
type Body struct {
	Errors FieldErrors

	kind  bodyKind
	json  map[string]json.RawMessage
	plain bool // json came from parsePlainObject: every value is a plain string
	form  url.Values
	files map[string][]*multipart.FileHeader
}

// malformedMsg is the malformed-body message for a Content-Type: multipart's, else JSON's.
func malformedMsg(contentType string) string {
	if mt, _ := bodyMediaType(contentType); mt == "multipart/form-data" {
		return MsgMalformedMulti
	}
	return MsgMalformedJSON
}

// ReadBody reads and parses the request body (§1.2). accepted says which formats besides JSON
// the endpoint takes. An empty body gives an empty *Body whatever the Content-Type; a non-empty
// body of another type is 415; a reader over its limit is 413; JSON that is not an object is
// 400 {"non_field_errors": ["Malformed JSON request body."]}. JSON keys are case-sensitive and
// the last occurrence of a repeated key wins; in form and multipart bodies the first value of
// a key is used.
func ReadBody(e *core.RequestEvent, accepted BodyKinds) (*Body, error) {
	b := &Body{Errors: FieldErrors{}}
	r := e.Request
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return b, nil
	}

	data, err := io.ReadAll(io.LimitReader(r.Body, bindBackstopLimit+1))
	if err != nil {
		if isTooLarge(err) {
			return nil, PayloadTooLarge()
		}
		// A body the client broke off or framed wrongly (a bad chunk, fewer bytes than its
		// Content-Length) is the client's error, never a 500.
		return nil, InvalidField("non_field_errors", malformedMsg(r.Header.Get("Content-Type")))
	}
	if len(data) > bindBackstopLimit {
		return nil, PayloadTooLarge()
	}
	// Let anything that reads the body later (logging, PocketBase helpers) see the same bytes.
	r.Body = io.NopCloser(bytes.NewReader(data))
	if len(data) == 0 {
		return b, nil
	}

	mt, params := bodyMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json":
		if err := b.parseJSON(data); err != nil {
			return nil, err
		}
	case mt == "application/x-www-form-urlencoded" && accepted&BodyForm != 0:
		// Like Django's QueryDict, undecodable pairs are skipped rather than rejected.
		vals, _ := url.ParseQuery(string(data))
		b.kind, b.form = kindForm, vals
	case mt == "multipart/form-data" && accepted&BodyMultipart != 0:
		boundary := params["boundary"]
		if boundary == "" {
			return nil, InvalidField("non_field_errors", MsgMalformedMulti)
		}
		// The whole body is already in memory and bounded, so keep every part in memory too
		// (no temporary files to clean up).
		form, err := multipart.NewReader(bytes.NewReader(data), boundary).ReadForm(int64(len(data)) + 1)
		if err != nil {
			if errors.Is(err, multipart.ErrMessageTooLarge) {
				// Not the size (data is within MaxBodyBytes and all of it may be kept): Go's
				// bounds on parts (1,000) or part headers (10,000), which protect the parser.
				// The body is not too large, the form is malformed for us: 400, not 413 (§1.2).
				return nil, InvalidField("non_field_errors", MsgTooManyParts)
			}
			return nil, InvalidField("non_field_errors", MsgMalformedMulti)
		}
		b.kind, b.form, b.files = kindMultipart, url.Values(form.Value), form.File
	default:
		return nil, UnsupportedMediaType(mt)
	}
	return b, nil
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return true
	}
	var apiErr *router.ApiError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusRequestEntityTooLarge
}

// bodyMediaType returns the lower-cased media type without parameters, and the parameters when
// the header parses.
func bodyMediaType(ct string) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
		params = nil
	}
	return mt, params
}

func (b *Body) parseJSON(data []byte) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return InvalidField("non_field_errors", MsgMalformedJSON)
	}
	if m, ok := parsePlainObject(data); ok {
		b.kind, b.json, b.plain = kindJSON, m, true
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return InvalidField("non_field_errors", MsgMalformedJSON)
	}
	b.kind, b.json = kindJSON, m
	return nil
}

// IsJSON reports whether the body was a JSON object (false for an empty body).
func (b *Body) IsJSON() bool { return b.kind == kindJSON }

// IsEmpty reports whether the request had no body at all.
func (b *Body) IsEmpty() bool { return b.kind == kindEmpty }

// Has reports whether the body carries the key (JSON null and empty form values count).
func (b *Body) Has(name string) bool {
	switch b.kind {
	case kindJSON:
		_, ok := b.json[name]
		return ok
	case kindForm, kindMultipart:
		if _, ok := b.form[name]; ok {
			return true
		}
		_, ok := b.files[name]
		return ok
	}
	return false
}

// Keys returns the bound keys of a JSON body (exact case, each once), for forbidden-key checks.
// For form bodies it returns the value and file keys.
func (b *Body) Keys() []string {
	var out []string
	switch b.kind {
	case kindJSON:
		for k := range b.json {
			out = append(out, k)
		}
	case kindForm, kindMultipart:
		for k := range b.form {
			out = append(out, k)
		}
		for k := range b.files {
			if _, dup := b.form[k]; !dup {
				out = append(out, k)
			}
		}
	}
	return out
}

// Raw returns the raw JSON of a key of a JSON body.
func (b *Body) Raw(name string) (json.RawMessage, bool) {
	if b.kind != kindJSON {
		return nil, false
	}
	raw, ok := b.json[name]
	return raw, ok
}

// Text is the trimmed value of a string key as submitted, whatever its validation result: ""
// when the key is absent, null, a file part or not a JSON string. (Registration checks the
// password against the submitted username and email even when those fail their own rules.)
func (b *Body) Text(name string) string {
	l := b.lookup(name)
	switch {
	case !l.present || l.isNull || l.isFileOnly:
		return ""
	case l.isJSON:
		var s string
		if json.Unmarshal(l.raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(l.text)
}

// Err is 400 invalid with the collected messages, or nil when every field passed.
func (b *Body) Err() error { return b.Errors.Err() }

// fail records msg for field unless the field already failed a rule.
func (b *Body) fail(field, msg string) {
	if b.Errors == nil {
		b.Errors = FieldErrors{}
	}
	if !b.Errors.Has(field) {
		b.Errors.Add(field, msg)
	}
}

// lookup finds a key. It returns the raw JSON (JSON bodies) or the first form value (form
// bodies); isNull is true for JSON null; isFileOnly for a multipart key that only has file parts.
type lookupResult struct {
	present    bool
	isJSON     bool
	isPlain    bool // raw is a plain string (plainjson.go): its contents need no decoding
	raw        json.RawMessage
	text       string
	isNull     bool
	isFileOnly bool
}

func (b *Body) lookup(name string) lookupResult {
	switch b.kind {
	case kindJSON:
		raw, ok := b.json[name]
		if !ok {
			return lookupResult{}
		}
		return lookupResult{present: true, isJSON: true, isPlain: b.plain, raw: raw, isNull: string(raw) == "null"}
	case kindForm, kindMultipart:
		if vs, ok := b.form[name]; ok && len(vs) > 0 {
			return lookupResult{present: true, text: vs[0]}
		}
		if fs, ok := b.files[name]; ok && len(fs) > 0 {
			return lookupResult{present: true, isFileOnly: true}
		}
	}
	return lookupResult{}
}

// Str configures the String reader.
type Str struct {
	Required    bool     // absent → RequiredMsg
	AllowBlank  bool     // "" (after trimming) is a valid value
	Nullable    bool     // JSON null and "" are valid and mean "clear" (§1.9)
	Raw         bool     // passwords, OTP codes, tokens, CAPTCHA answers: never trimmed
	Max         int      // maximum length in characters (code points); 0 = none
	Choices     []string // allowed values (checked after trimming); nil = any
	RequiredMsg string   // overrides "This field is required." (missing and null)
	BlankMsg    string   // overrides "This field may not be blank." (e.g. a new password, §1.4)
}

// String reads a string field. Rules, first failure only: required (missing, or null when not
// Nullable) → type (JSON string only) → blank → max → choices. With Nullable, null and "" give
// ("", true), meaning clear; with AllowBlank, "" is a valid value. Unless Raw, the value is
// trimmed of leading and trailing whitespace. On failure the value is "" and present tells
// whether the key was sent.
func (b *Body) String(name string, r Str) (string, bool) {
	requiredMsg := r.RequiredMsg
	if requiredMsg == "" {
		requiredMsg = MsgRequired
	}
	l := b.lookup(name)
	if !l.present {
		if r.Required {
			b.fail(name, requiredMsg)
		}
		return "", false
	}
	var val string
	switch {
	case l.isNull:
		if r.Nullable {
			return "", true
		}
		b.fail(name, requiredMsg)
		return "", true
	case l.isJSON:
		if l.isPlain {
			val = string(l.raw[1 : len(l.raw)-1])
		} else if len(l.raw) == 0 || l.raw[0] != '"' || json.Unmarshal(l.raw, &val) != nil {
			b.fail(name, MsgNotString)
			return "", true
		}
	case l.isFileOnly:
		b.fail(name, MsgNotString)
		return "", true
	default:
		val = l.text
	}
	if !r.Raw {
		val = strings.TrimSpace(val)
	}
	if val == "" {
		if r.AllowBlank || r.Nullable {
			return "", true
		}
		msg := r.BlankMsg
		if msg == "" {
			msg = MsgBlank
		}
		b.fail(name, msg)
		return "", true
	}
	if r.Max > 0 && utf8.RuneCountInString(val) > r.Max {
		b.fail(name, MsgMaxLength(r.Max))
		return "", true
	}
	if r.Choices != nil && !containsString(r.Choices, val) {
		b.fail(name, MsgInvalidChoice(val))
		return "", true
	}
	return val, true
}

func containsString(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Bool reads a boolean: JSON true/false only; in form bodies true/false/1/0, case-insensitive.
// Anything else is "Must be a valid boolean."; null or a missing required field is
// "This field is required.".
func (b *Body) Bool(name string, required bool) (bool, bool) {
	l := b.lookup(name)
	if !l.present {
		if required {
			b.fail(name, MsgRequired)
		}
		return false, false
	}
	switch {
	case l.isNull:
		b.fail(name, MsgRequired)
	case l.isJSON:
		switch string(l.raw) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		b.fail(name, MsgNotBool)
	case l.isFileOnly:
		b.fail(name, MsgNotBool)
	default:
		if v, ok := ParseFormBool(l.text); ok {
			return v, true
		}
		b.fail(name, MsgNotBool)
	}
	return false, true
}

// ParseFormBool parses a boolean as written in form bodies (§1.2): true/false/1/0, any case,
// surrounding whitespace ignored.
func ParseFormBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// jsonIntegral matches a JSON number with an integral value written without exponent
// (`5`, `-3`, `5.0`), the forms DRF's IntegerField takes from a JSON number.
var jsonIntegral = regexp.MustCompile(`^(-?\d+)(?:\.0+)?$`)

// Int reads an integer: a JSON number with an integral value (1.5, "1", true are rejected); in
// form bodies a decimal integer string. Failure is "A valid integer is required.".
func (b *Body) Int(name string, required bool) (int64, bool) {
	l := b.lookup(name)
	if !l.present {
		if required {
			b.fail(name, MsgRequired)
		}
		return 0, false
	}
	var digits string
	switch {
	case l.isNull:
		b.fail(name, MsgRequired)
		return 0, true
	case l.isJSON:
		m := jsonIntegral.FindSubmatch(l.raw)
		if m == nil {
			b.fail(name, MsgNotInt)
			return 0, true
		}
		digits = string(m[1])
	case l.isFileOnly:
		b.fail(name, MsgNotInt)
		return 0, true
	default:
		digits = strings.TrimSpace(l.text)
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		b.fail(name, MsgNotInt)
		return 0, true
	}
	return v, true
}

// Object reads a JSON object (decoded with encoding/json defaults, plus its raw text). Form
// bodies never carry objects (§1.2): any form value is "Expected a JSON object.".
func (b *Body) Object(name string, required bool) (map[string]any, json.RawMessage, bool) {
	l := b.lookup(name)
	if !l.present {
		if required {
			b.fail(name, MsgRequired)
		}
		return nil, nil, false
	}
	if l.isNull {
		b.fail(name, MsgRequired)
		return nil, nil, true
	}
	if !l.isJSON || len(l.raw) == 0 || l.raw[0] != '{' {
		b.fail(name, MsgNotObject)
		return nil, nil, true
	}
	var m map[string]any
	if err := json.Unmarshal(l.raw, &m); err != nil || m == nil {
		b.fail(name, MsgNotObject)
		return nil, nil, true
	}
	return m, l.raw, true
}

// List reads a JSON array as its raw items. Form bodies never carry lists.
func (b *Body) List(name string, required bool) ([]json.RawMessage, bool) {
	l := b.lookup(name)
	if !l.present {
		if required {
			b.fail(name, MsgRequired)
		}
		return nil, false
	}
	if l.isNull {
		b.fail(name, MsgRequired)
		return nil, true
	}
	if !l.isJSON || len(l.raw) == 0 || l.raw[0] != '[' {
		b.fail(name, MsgNotList)
		return nil, true
	}
	var items []json.RawMessage
	if err := json.Unmarshal(l.raw, &items); err != nil {
		b.fail(name, MsgNotList)
		return nil, true
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return items, true
}

// Email reads an email (§1.16): string rules, trimmed, lower-cased, then every failing rule of
// the field's row, in its order: a valid address, ≤ 254 characters.
func (b *Body) Email(name string, required bool) (string, bool) {
	v, present := b.String(name, Str{Required: required})
	if b.Errors.Has(name) || !present {
		return "", present
	}
	v = strings.ToLower(v)
	if msgs := EmailErrors(v); msgs != nil {
		b.failAll(name, msgs)
		return "", true
	}
	return v, true
}

// EmailErrors are the messages of §1.16's email rules that v (trimmed, lower-cased) fails, in
// the rules' order (§1.4: like Django's validators, all of them run); nil when it passes.
func EmailErrors(v string) []string {
	var msgs []string
	if !ValidEmail(v) {
		msgs = append(msgs, MsgInvalidEmail)
	}
	if utf8.RuneCountInString(v) > 254 {
		msgs = append(msgs, MsgMaxLength(254))
	}
	return msgs
}

// failAll records msgs for field unless the field already failed a rule.
func (b *Body) failAll(field string, msgs []string) {
	for i, msg := range msgs {
		if i == 0 {
			b.fail(field, msg)
		} else {
			b.Errors.Add(field, msg)
		}
	}
}

var (
	emailUserRe   = regexp.MustCompile("^[-!#$%&'*+/=?^_`{}|~0-9a-zA-Z]+(\\.[-!#$%&'*+/=?^_`{}|~0-9a-zA-Z]+)*$")
	emailDomainRe = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z0-9-]{2,63}$`)
)

// ValidEmail follows Django's EmailValidator: a dot-atom local part (quoted local parts are not
// accepted), "@", then a dotted host name whose last label has ≥ 2 characters and does not end
// with "-", "localhost", or an IP literal in brackets. ASCII only; no spaces or display names.
// And the address must be one PocketBase's email fields store (is.EmailFormat: not "localhost",
// IP literals or a digit in the last label), since every address bound here is stored in one
// (accounts, invitations, the outbox's recipient): what Django accepts and the field refuses is
// invalid here, not a failed save.
func ValidEmail(s string) bool {
	return validEmailDjango(s) && is.EmailFormat.Validate(s) == nil
}

func validEmailDjango(s string) bool {
	if s == "" || len(s) > 320 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	user, domain := s[:at], s[at+1:]
	if !emailUserRe.MatchString(user) {
		return false
	}
	if strings.EqualFold(domain, "localhost") {
		return true
	}
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		lit := domain[1 : len(domain)-1]
		if rest, ok := strings.CutPrefix(strings.ToLower(lit), "ipv6:"); ok {
			addr, err := netip.ParseAddr(rest)
			return err == nil && addr.Is6() && addr.Zone() == ""
		}
		addr, err := netip.ParseAddr(lit)
		return err == nil && addr.Is4()
	}
	return emailDomainRe.MatchString(domain) && !strings.HasSuffix(domain, "-")
}

var usernameRe = regexp.MustCompile(`^[A-Za-z0-9_.@+-]+$`)

// Username reads a username (§1.16): string rules (blank → "This field may not be blank."),
// ≤ 150 characters, then the pattern ^[\w.@+-]+$ with ASCII \w. Uniqueness is the caller's.
func (b *Body) Username(name string, required bool) (string, bool) {
	v, present := b.String(name, Str{Required: required})
	if b.Errors.Has(name) || !present {
		return "", present
	}
	// both rules run (§1.4), in the row's order
	var msgs []string
	if utf8.RuneCountInString(v) > 150 {
		msgs = append(msgs, MsgMaxLength(150))
	}
	if !usernameRe.MatchString(v) {
		msgs = append(msgs, MsgInvalidUser)
	}
	if msgs != nil {
		b.failAll(name, msgs)
		return "", true
	}
	return v, true
}

var (
	phoneSeparators = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "")
	phoneE164Re     = regexp.MustCompile(`^\+[1-9]\d{9,14}$`)
	phoneLocalRe    = regexp.MustCompile(`^09\d{9}$`)
)

// NormalizePhone applies §1.16: after removing spaces, "-", "(" and ")" (and surrounding
// whitespace), an E.164 number ^\+[1-9]\d{9,14}$ is kept as is and the local form ^09\d{9}$
// becomes "+63" + its last 10 digits. An empty result means "no phone number" and is valid
// (""/true). Anything else is ("", false).
func NormalizePhone(s string) (string, bool) {
	p := phoneSeparators.Replace(strings.TrimSpace(s))
	switch {
	case p == "":
		return "", true
	case phoneE164Re.MatchString(p):
		return p, true
	case phoneLocalRe.MatchString(p):
		return "+63" + p[1:], true
	}
	return "", false
}

// Phone reads phone_number (§1.16): null or "" clears (("", true)); otherwise the normalised
// number, or the E.164 message. Uniqueness is the caller's.
func (b *Body) Phone(name string) (string, bool) {
	v, present := b.String(name, Str{Nullable: true})
	if b.Errors.Has(name) || !present {
		return "", present
	}
	p, ok := NormalizePhone(v)
	if !ok {
		b.fail(name, MsgInvalidPhone)
		return "", true
	}
	return p, true
}

// File reads a multipart file part (profile_picture, §1.16). An empty part (no file chosen:
// empty content, or an empty text part) and JSON null give clear=true. A non-empty text value
// or any other JSON value is not a file: "Invalid image file." (the contract's only file
// field is an image). Content checks (size, type, dimensions) are the caller's.
func (b *Body) File(name string) (fh *multipart.FileHeader, present bool, clear bool) {
	if b.kind == kindMultipart {
		if fs := b.files[name]; len(fs) > 0 {
			if fs[0].Size == 0 {
				return nil, true, true
			}
			return fs[0], true, false
		}
	}
	l := b.lookup(name)
	if !l.present {
		return nil, false, false
	}
	if l.isNull || (!l.isJSON && l.text == "") {
		return nil, true, true
	}
	b.fail(name, MsgInvalidImage)
	return nil, true, false
}
