package permissions_test

import (
	"testing"

	"gatehouse/plugins/permissions"
)

// Canonical keeps a repeated key once, at its first position, with its last value (§1.2), at
// any depth; numbers keep their digits, strings are not HTML-escaped, whitespace goes.
func TestCanonicalSettings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"is_deployed":false,"is_deployed":true}`:                        `{"is_deployed":true}`,
		`{ "a" : 1 , "b": [ {"c":1,"c":null} ], "a": {"d":"x","d":"y"} }`: `{"a":{"d":"y"},"b":[{"c":null}]}`,
		`{"n":9007199254740993,"f":1.50E+3,"neg":-0.0}`:                   `{"n":9007199254740993,"f":1.50E+3,"neg":-0.0}`,
		`{"s":"<a&b> \u00e9 \"q\" \\ \/","t":true,"e":{},"l":[]}`:         `{"s":"<a&b> é \"q\" \\ /","t":true,"e":{},"l":[]}`,
		`{"is_d\u0065ployed":false,"is_deployed":true}`:                   `{"is_deployed":true}`,
	} {
		got, err := permissions.Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{`{"a":1`, `{"a":1}{}`, `{"a":}`} {
		if got, err := permissions.Canonical([]byte(bad)); err == nil {
			t.Errorf("Canonical(%s) = %s, want an error", bad, got)
		}
	}
}
