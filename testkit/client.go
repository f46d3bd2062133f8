package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Client sends JSON requests to a test server (Serve) and reads the answers whole.
type Client struct {
	TB  testing.TB
	URL string // base URL, e.g. Serve(tb, app).URL
}

// Reply is one answer.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any // the body decoded as an object (nil when it is not one)
}

// Str returns a string field of the JSON body ("" when absent).
func (r Reply) Str(key string) string {
	s, _ := r.JSON[key].(string)
	return s
}

// Do sends body (JSON-encoded unless it is a string or nil) with the headers given as
// name, value pairs.
func (c Client) Do(method, path string, body any, headers ...string) Reply {
	c.TB.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.TB.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		c.TB.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.TB.Fatal(err)
	}
	defer res.Body.Close()
	out := Reply{Status: res.StatusCode, Header: res.Header}
	if out.Body, err = io.ReadAll(res.Body); err != nil {
		c.TB.Fatal(err)
	}
	_ = json.Unmarshal(out.Body, &out.JSON)
	return out
}
