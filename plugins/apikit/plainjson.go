package apikit

import (
	"bytes"
	"encoding/json"
)

// Plain JSON: the shapes most request and token bodies have — strings of printable ASCII with
// nothing to escape (tokens, codes, ids, e-mail addresses), objects of such strings — read and
// written without encoding/json's reflection and validation passes. Everything else goes
// through encoding/json, so the results are always exactly encoding/json's (the tests compare
// the two on generated inputs).

// plainByte reports whether b stands for itself inside a JSON string in both of encoding/json's
// modes: printable ASCII except the quote, the backslash and the three characters it escapes
// for HTML (<, >, &).
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// isPlain reports whether every byte of s is a plainByte.
func isPlain[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// AppendJSONString appends s as a JSON string exactly as encoding/json writes it: json.Marshal
// when escapeHTML is true, an Encoder with SetEscapeHTML(false) (what WriteJSON uses) when false.
func AppendJSONString(dst []byte, s string, escapeHTML bool) []byte {
	if isPlain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes (invalid UTF-8 becomes U+FFFD)
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// plainString reads the JSON string starting at data[i] when it is plain (no escapes, nothing
// encoding/json would change when decoding it): its contents and the index after its closing
// quote.
func plainString(data []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	end := bytes.IndexByte(data[i+1:], '"')
	if end < 0 {
		return nil, 0, false
	}
	s = data[i+1 : i+1+end]
	if !isPlain(s) {
		return nil, 0, false
	}
	return s, i + end + 2, true
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// parsePlainObject is the fast path of a JSON body: an object whose keys and values are all
// plain strings, e.g. {"refresh": "<jwt>"}. ok is false for anything else (nothing decided: the
// caller parses it with encoding/json). Duplicate keys: the last one wins, as in encoding/json.
// The raw values alias data.
func parsePlainObject(data []byte) (m map[string]json.RawMessage, ok bool) {
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	m = make(map[string]json.RawMessage, 4)
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return m, skipJSONSpace(data, i+1) == len(data)
	}
	for {
		key, next, ok := plainString(data, i)
		if !ok {
			return nil, false
		}
		i = skipJSONSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		start := skipJSONSpace(data, i+1)
		if _, next, ok = plainString(data, start); !ok {
			return nil, false
		}
		m[string(key)] = data[start:next:next]
		i = skipJSONSpace(data, next)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipJSONSpace(data, i+1)
		case '}':
			return m, skipJSONSpace(data, i+1) == len(data)
		default:
			return nil, false
		}
	}
}
