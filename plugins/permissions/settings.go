package permissions

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/pocketbase/pocketbase/tools/types"

	"gatehouse/plugins/apikit"
)

// The settings object of an assignment (§2.6, §5.11.4), written by the directory's and TTS's
// assignment endpoints alike.
const (
	MsgDeployedBool  = "is_deployed must be a boolean."
	MsgSettingsLarge = "Settings must not exceed 16 KB."
	MaxSettingsBytes = 16384
)

// ReadSettings reads the settings object of §5.11.4 from body: a JSON object whose
// is_deployed, when present, is a boolean and whose compact UTF-8 form is at most 16,384
// bytes. It returns the object, its canonical compact form (Canonical: a key repeated in any
// object appears once, with its last value, as §1.2 reads it and as the object was validated)
// and whether the key was present; a bad value is recorded in body.Errors and returns a nil
// object.
func ReadSettings(body *apikit.Body, required bool) (map[string]any, types.JSONRaw, bool) {
	obj, raw, present := body.Object("settings", required)
	if !present || obj == nil || body.Errors.Has("settings") {
		return nil, nil, present
	}
	if v, ok := obj["is_deployed"]; ok {
		if _, isBool := v.(bool); !isBool {
			body.Errors.Add("settings", MsgDeployedBool)
			return nil, nil, true
		}
	}
	compact, err := Canonical(raw)
	if err != nil {
		body.Errors.Add("settings", apikit.MsgNotObject)
		return nil, nil, true
	}
	if len(compact) > MaxSettingsBytes {
		body.Errors.Add("settings", MsgSettingsLarge)
		return nil, nil, true
	}
	return obj, types.JSONRaw(compact), true
}

// Canonical re-encodes one JSON value compactly so that every reader sees what encoding/json
// decoded: a key repeated in an object (at any depth) is kept once, at its first position,
// with its last value (§1.2: "the last occurrence wins"). SQLite's json_extract, which the
// round-robin reads settings.is_deployed with, would otherwise take the first occurrence.
// Numbers keep their literal digits; strings are re-encoded without HTML escaping, so the
// form is never larger than json.Compact's, except for U+2028/U+2029 and invalid UTF-8.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := canonicalValue(dec, &buf); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("settings: trailing data after the JSON value")
	}
	return buf.Bytes(), nil
}

// canonicalValue writes the next value of dec to buf.
func canonicalValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			buf.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := canonicalValue(dec, buf); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
		} else {
			var keys []string
			values := map[string][]byte{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				var v bytes.Buffer
				if err := canonicalValue(dec, &v); err != nil {
					return err
				}
				if _, seen := values[key]; !seen {
					keys = append(keys, key)
				}
				values[key] = v.Bytes()
			}
			buf.WriteByte('{')
			for i, key := range keys {
				if i > 0 {
					buf.WriteByte(',')
				}
				writeString(buf, key)
				buf.WriteByte(':')
				buf.Write(values[key])
			}
			buf.WriteByte('}')
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		writeString(buf, t)
	case json.Number:
		buf.WriteString(t.String())
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case nil:
		buf.WriteString("null")
	}
	return nil
}

// writeString writes s as a JSON string without HTML escaping.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// Deployed is settings.is_deployed, true when absent (§5.13.4).
func Deployed(settings map[string]any) bool {
	v, ok := settings["is_deployed"].(bool)
	return !ok || v
}
