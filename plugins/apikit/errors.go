// Package apikit holds the HTTP conventions every Gatehouse endpoint shares (spec/API.md §1):
// the error envelope, body binding and validation, pagination, the path table that serves both
// slash forms with 405/404 answers, content negotiation, the request guards and the principal.
package apikit

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Error codes of §1.3.
const (
	CodeInvalid              = "invalid"
	CodeInvalidCredentials   = "invalid_credentials"
	CodeCaptchaRequired      = "captcha_required"
	CodeOTPRequired          = "otp_required"
	CodeOTPInvalid           = "otp_invalid"
	CodeNotAuthenticated     = "not_authenticated"
	CodeTokenNotValid        = "token_not_valid"
	CodePermissionDenied     = "permission_denied"
	CodeAccountLocked        = "account_locked"
	CodeAccountPending       = "account_pending"
	CodeAccountRejected      = "account_rejected"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodeNoEligibleAgent      = "no_eligible_agent"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeTooManyRequests      = "too_many_requests"
	CodeServerError          = "server_error"
)

// Default details of §1.3.
const (
	DetailInvalid            = "Invalid input."
	DetailInvalidCredentials = "Invalid email or password."
	DetailNotAuthenticated   = "Authentication credentials were not provided."
	DetailTokenNotValid      = "Token is invalid or expired."
	DetailInvalidAPIKey      = "Invalid API key."
	DetailPermissionDenied   = "You do not have permission to perform this action."
	DetailNotFound           = "Not found."
	DetailPayloadTooLarge    = "Request body too large."
	DetailServerError        = "A server error occurred."
	DetailCSRFFailed         = "CSRF check failed: origin not allowed."
)

// Error is an API error answered with the envelope of §1.3. Handlers return it as their error;
// the route wrapper of the path table writes it. Header holds extra response headers (Allow,
// Retry-After, WWW-Authenticate).
type Error struct {
	Status int
	Code   string
	Detail string
	Fields FieldErrors
	Header http.Header

	deniedKey string // the stored API key a refused X-API-Key named (InvalidAPIKeyOf)
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// WithHeader returns e with one more response header.
func (e *Error) WithHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(key, value)
	return e
}

// FieldErrors maps a request field name (or "non_field_errors") to its messages, in rule order.
type FieldErrors map[string][]string

// Add appends a message for field.
func (f FieldErrors) Add(field, msg string) { f[field] = append(f[field], msg) }

// Has reports whether field already failed a rule (later rules of that field are then skipped
// by the binders, as DRF stops at the first failing validator of a field).
func (f FieldErrors) Has(field string) bool { return len(f[field]) > 0 }

// Err returns a 400 invalid error when any field failed, else nil.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(f)
}

// NewError builds an error with an explicit status, code and detail.
func NewError(status int, code, detail string) *Error {
	return &Error{Status: status, Code: code, Detail: detail}
}

// Invalid is 400 invalid with per-field messages.
func Invalid(fields FieldErrors) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Detail: DetailInvalid, Fields: maps.Clone(fields)}
}

// InvalidField is 400 invalid for a single field message.
func InvalidField(field, msg string) *Error { return Invalid(FieldErrors{field: {msg}}) }

// NotAuthenticated is 401 for a request without credentials.
func NotAuthenticated() *Error {
	return NewError(http.StatusUnauthorized, CodeNotAuthenticated, DetailNotAuthenticated).
		WithHeader("WWW-Authenticate", `Bearer realm="api"`)
}

// TokenNotValid is 401 for any presented credential that fails a check (§1.5).
func TokenNotValid() *Error {
	return NewError(http.StatusUnauthorized, CodeTokenNotValid, DetailTokenNotValid).
		WithHeader("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
}

// InvalidAPIKey is 401 token_not_valid with the API-key text.
func InvalidAPIKey() *Error {
	e := TokenNotValid()
	e.Detail = DetailInvalidAPIKey
	return e
}

// PermissionDenied is 403; an empty detail gives the default text.
func PermissionDenied(detail string) *Error {
	if detail == "" {
		detail = DetailPermissionDenied
	}
	return NewError(http.StatusForbidden, CodePermissionDenied, detail)
}

// NotFound is 404; an empty detail gives "Not found.".
func NotFound(detail string) *Error {
	if detail == "" {
		detail = DetailNotFound
	}
	return NewError(http.StatusNotFound, CodeNotFound, detail)
}

// Conflict is 409 conflict.
func Conflict(detail string) *Error { return NewError(http.StatusConflict, CodeConflict, detail) }

// MethodNotAllowed is 405 with the Allow header of the path.
func MethodNotAllowed(method string, allow []string) *Error {
	e := NewError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", method))
	return e.WithHeader("Allow", joinAllow(allow))
}

// PayloadTooLarge is 413.
func PayloadTooLarge() *Error {
	return NewError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, DetailPayloadTooLarge)
}

// UnsupportedMediaType is 415 naming the rejected type.
func UnsupportedMediaType(contentType string) *Error {
	return NewError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
		fmt.Sprintf("Unsupported media type %q in request.", contentType))
}

// TooManyRequests is 429 with Retry-After (whole seconds, at least 1).
func TooManyRequests(retryAfterSeconds int) *Error {
	if retryAfterSeconds < 1 {
		retryAfterSeconds = 1
	}
	return NewError(http.StatusTooManyRequests, CodeTooManyRequests,
		fmt.Sprintf("Too many requests. Try again in %d seconds.", retryAfterSeconds)).
		WithHeader("Retry-After", strconv.Itoa(retryAfterSeconds))
}

// ServerError is the opaque 500 of §1.3 and §8.7 statement 67.
func ServerError() *Error {
	return NewError(http.StatusInternalServerError, CodeServerError, DetailServerError)
}

type envelope struct {
	Detail string      `json:"detail"`
	Code   string      `json:"code"`
	Errors FieldErrors `json:"errors,omitempty"`
}

// WriteError answers err with the envelope. Anything that is not an *Error is logged and answered
// as an opaque 500; PocketBase's own *router.ApiError (limiter, body limit, panic recovery) is
// mapped onto the matching code.
func WriteError(e *core.RequestEvent, err error) error {
	apiErr := AsError(e.App, err)
	if apiErr.Status == http.StatusInternalServerError && callerGone(e) {
		// the caller's account was deleted while the request ran (a later read or a row
		// referencing it failed): its token names a principal that no longer exists (§1.5)
		apiErr = TokenNotValid()
	}
	auditDenied(e, apiErr)
	h := e.Response.Header()
	for k, v := range apiErr.Header {
		h[k] = slices.Clone(v)
	}
	body := envelope{Detail: apiErr.Detail, Code: apiErr.Code}
	if apiErr.Code == CodeInvalid {
		body.Errors = apiErr.Fields
		if body.Errors == nil {
			body.Errors = FieldErrors{"non_field_errors": {DetailInvalid}}
		}
	}
	return WriteJSON(e, apiErr.Status, body)
}

// AsError converts any error into an *Error (see WriteError).
func AsError(app core.App, err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var pbErr *router.ApiError
	if errors.As(err, &pbErr) {
		switch pbErr.Status {
		case http.StatusTooManyRequests:
			return TooManyRequests(10)
		case http.StatusRequestEntityTooLarge:
			return PayloadTooLarge()
		case http.StatusNotFound:
			return NotFound("")
		case http.StatusUnauthorized:
			return TokenNotValid()
		case http.StatusForbidden:
			return PermissionDenied("")
		}
	}
	if app != nil {
		app.Logger().Error("request failed", "error", err)
	}
	return ServerError()
}

// WriteJSON writes v as a JSON response with the contract's headers (§1.2): UTF-8 charset and
// Cache-Control: no-store unless the handler already set another Cache-Control. It never
// applies PocketBase's ?fields= picker (§1.8: undocumented parameters are ignored), and it does
// not escape <, > and & (the contract's bodies show them as they are).
func WriteJSON(e *core.RequestEvent, status int, v any) error {
	b, err := MarshalJSON(v)
	if err != nil {
		return err
	}
	return WriteRawJSON(e, status, b)
}

// MarshalJSON encodes v as WriteJSON writes it: no HTML escaping ("&" in URLs stays "&", as
// the contract writes it), no trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

// WriteRawJSON writes b, already-encoded JSON (MarshalJSON), with WriteJSON's headers.
func WriteRawJSON(e *core.RequestEvent, status int, b []byte) error {
	h := e.Response.Header()
	h["Content-Type"] = jsonContentType // canonical keys, shared values: nothing appends to them
	if h.Get("Cache-Control") == "" {
		h["Cache-Control"] = noStore
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	e.Response.WriteHeader(status)
	_, err := e.Response.Write(b)
	return err
}

// allowOrder is the order of methods in the Allow header (§1.1).
var allowOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func joinAllow(methods []string) string {
	out := ""
	for _, m := range allowOrder {
		if slices.Contains(methods, m) {
			if out != "" {
				out += ", "
			}
			out += m
		}
	}
	return out
}

// callerGone reports whether the request's token principal no longer exists (read on this error
// path only).
func callerGone(e *core.RequestEvent) bool {
	c := CallerOf(e)
	if c == nil || c.Record == nil || c.Kind == KindService || e.App == nil {
		return false
	}
	_, err := e.App.FindRecordById(c.Record.Collection(), c.Record.Id)
	return errors.Is(err, sql.ErrNoRows)
}
