package apikit

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Doc is the OpenAPI description of one route (§5.15.7). plugins/apidocs builds the document
// from the routes that were mounted and their docs: paths, methods and security come from the
// route itself (Method, Path, Access, Accepts, Page), everything else from here. A mounted
// route without a Doc fails apidocs' completeness test.
type Doc struct {
	Summary     string
	Description string
	Tag         string  // group in the docs page ("Sign-in", "Password", …)
	Query       []Param // query parameters (path parameters come from the path)
	// Body is the schema of the JSON request body (nil: no body). Form and multipart bodies of
	// routes that accept them (Route.Accepts) get the same schema.
	Body      Schema
	Responses []Response // every status the endpoint answers, besides the common ones apidocs adds
}

// Param is a query parameter.
type Param struct {
	Name        string
	Description string
	Required    bool
	Schema      Schema
}

// Response is one documented answer. Schema nil: no body (204) or, for a 4xx/5xx, the error
// envelope. HTML: the text/html variant of a page endpoint (§1.11) is documented as well.
type Response struct {
	Status      int
	Description string
	Schema      Schema
	HTML        bool
}

// Schema is a JSON Schema (OpenAPI 3.1 dialect) as a plain value.
type Schema = map[string]any

// Ref points at a shared schema of the document's components (UserProfile, TokenResponse, …;
// plugins/apidocs defines them).
func Ref(name string) Schema { return Schema{"$ref": "#/components/schemas/" + name} }

// Obj is an object schema; required lists the required properties.
func Obj(props map[string]Schema, required ...string) Schema {
	s := Schema{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// Text, Integer, Boolean are the scalar schemas, with a description.
func Text(desc string) Schema    { return Schema{"type": "string", "description": desc} }
func Integer(desc string) Schema { return Schema{"type": "integer", "description": desc} }
func Boolean(desc string) Schema { return Schema{"type": "boolean", "description": desc} }

// PageOf is the Page<T> envelope of §4.13 around items.
func PageOf(items Schema) Schema {
	nullable := Schema{"type": []string{"string", "null"}}
	return Obj(map[string]Schema{"count": {"type": "integer"}, "next": nullable, "previous": nullable,
		"results": {"type": "array", "items": items}}, "count", "next", "previous", "results")
}

// OK is a 200 answer with a JSON body.
func OK(desc string, schema Schema) Response {
	return Response{Status: 200, Description: desc, Schema: schema}
}

// Fail is an error answer (the error envelope of §1.3).
func Fail(status int, desc string) Response { return Response{Status: status, Description: desc} }

// MountedRoute is a route as it was mounted: what apidocs needs to describe it.
type MountedRoute struct {
	Method  string
	Path    string // as the route table writes it (the slash form, or a file name such as /.well-known/jwks.json)
	Access  Access
	Accepts BodyKinds
	Page    bool
	Doc     *Doc
}

// Routes lists every route mounted through Mount (in mount order), the methods that only
// answer 405 excluded.
func (k *Kit) Routes() []MountedRoute {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Clone(k.routes)
}

func (k *Kit) recordRoute(rt Route) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routes = append(k.routes, MountedRoute{Method: rt.Method, Path: rt.Path, Access: rt.Access,
		Accepts: rt.Accepts, Page: rt.Page, Doc: rt.Doc})
}

// WithDocs attaches docs, keyed "METHOD /slash/path/", to a route table and fails when a doc
// names no route of the table (a typo would otherwise leave a route undocumented silently).
func WithDocs(table []Route, docs map[string]*Doc) ([]Route, error) {
	used := map[string]bool{}
	out := slices.Clone(table)
	for i := range out {
		key := out[i].Method + " " + slashForm(out[i].Path)
		if d, ok := docs[key]; ok && out[i].Doc == nil {
			out[i].Doc = d
			used[key] = true
		}
	}
	for key := range docs {
		if !used[key] {
			return nil, fmt.Errorf("apikit: doc %q names no route of the table", key)
		}
	}
	return out, nil
}

// StatusLogEnv names a file to which every answer of a mounted route appends one line
// "METHOD /slash/path/ STATUS" (test support: apidocs checks that each documented status occurs
// in a test; .ci/run sets it for the whole suite, the e2e binary inherits it). Unset: nothing
// is recorded.
const StatusLogEnv = "GATEHOUSE_STATUS_LOG"

var statusLogOn = os.Getenv(StatusLogEnv) != ""

var statusLog = struct {
	once sync.Once
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}{}

func recordStatus(method, path string, status int) {
	statusLog.once.Do(func() {
		name := os.Getenv(StatusLogEnv)
		if name == "" {
			return
		}
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err == nil {
			statusLog.f = f
			statusLog.seen = map[string]bool{}
		}
	})
	if statusLog.f == nil || status == 0 {
		return
	}
	line := method + " " + path + " " + strconv.Itoa(status)
	statusLog.mu.Lock()
	defer statusLog.mu.Unlock()
	if statusLog.seen[line] {
		return
	}
	statusLog.seen[line] = true
	// one write per line: O_APPEND keeps lines of parallel test processes whole
	_, _ = statusLog.f.WriteString(strings.TrimSpace(line) + "\n")
}
