package permissions

import (
	"bytes"
	"encoding/json"

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
// bytes. It returns the object, its compact form and whether the key was present; a bad value
// is recorded in body.Errors and returns a nil object.
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
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		body.Errors.Add("settings", apikit.MsgNotObject)
		return nil, nil, true
	}
	if buf.Len() > MaxSettingsBytes {
		body.Errors.Add("settings", MsgSettingsLarge)
		return nil, nil, true
	}
	return obj, types.JSONRaw(buf.Bytes()), true
}

// Deployed is settings.is_deployed, true when absent (§5.13.4).
func Deployed(settings map[string]any) bool {
	v, ok := settings["is_deployed"].(bool)
	return !ok || v
}
