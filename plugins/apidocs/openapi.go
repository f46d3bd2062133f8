package apidocs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase"

	"gatehouse/plugins/apikit"
)

// The OpenAPI 3.1 document of §5.15.7. Paths, methods and security come from the routes that
// were mounted (apikit.Kit.Routes), so the document lists exactly what the router serves; each
// route's summary, parameters, body and responses come from its apikit.Doc, kept next to the
// route table of the plugin that owns it.

type schema = apikit.Schema

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// pathParamDocs describes the path parameters of §1.1.
var pathParamDocs = map[string]string{
	"id":            "Record id (§1.9).",
	"user_id":       "Staff user id.",
	"assignment_id": "Assignment id.",
	"system_slug":   "System slug.",
}

// Build returns the OpenAPI document of the mounted routes and the problems found on the way: a
// route without documentation (apikit.Route.Doc) or with an incomplete one. Such a route is still
// listed, with a placeholder operation, so the document stays usable; the tests refuse problems.
func Build(kit *apikit.Kit) (map[string]any, []error) {
	paths := map[string]map[string]any{}
	tags := map[string]bool{}
	var problems []error
	for _, rt := range kit.Routes() {
		item := paths[rt.Path]
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		op, err := operation(rt)
		if err != nil {
			problems = append(problems, err)
			op = map[string]any{
				"operationId": operationID(rt.Method, rt.Path), "summary": "(not documented yet)", "tags": []string{"Undocumented"},
				"security":  security(rt.Access),
				"responses": map[string]any{"default": map[string]any{"description": "Not documented yet."}},
			}
			if params := pathParameters(rt.Path); len(params) > 0 {
				op["parameters"] = params
			}
		}
		item[strings.ToLower(rt.Method)] = op
		tags[op["tags"].([]string)[0]] = true
	}
	var tagList []map[string]any
	for _, t := range tagOrder {
		if tags[t.name] {
			tagList = append(tagList, map[string]any{"name": t.name, "description": t.description})
			delete(tags, t.name)
		}
	}
	var rest []string
	for name := range tags {
		rest = append(rest, name)
	}
	slices.Sort(rest)
	for _, name := range rest {
		tagList = append(tagList, map[string]any{"name": name, "description": name + "."})
	}

	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Gatehouse API",
			"version": pocketbase.Version,
			"summary": "Central sign-in and access service.",
			"description": "Every error answer has the envelope `Error` (§1.3). Besides the statuses listed per operation, " +
				"any operation may answer 405 (wrong method, with `Allow`), 413 (body too large), 415 (unsupported body format), " +
				"429 (rate limit, with `Retry-After`) and 500. Paths are served with and without the trailing slash.",
			"license": map[string]any{"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
		},
		"servers":    []map[string]any{{"url": kit.AppURL()}},
		"tags":       tagList,
		"paths":      paths,
		"components": components(),
	}, problems
}

// tagOrder is the order of the groups in the document (then any other tag, by name).
var tagOrder = []struct{ name, description string }{
	{"Sign-in", "Staff and employee login, the second-factor step and logout (§5.1, §5.12)."},
	{"Tokens", "Refresh, verification and validation of tokens; the public keys (§5.2, §5.15.1)."},
	{"Sessions", "The caller's sessions (§5.15.6)."},
	{"Password", "Password change, forgot and reset, staff and employees (§5.6, §5.12)."},
	{"Two-factor", "TOTP and email second factors, recovery codes, staff and employees (§5.7, §5.12)."},
	{"CAPTCHA", "The self-hosted image CAPTCHA (§5.8)."},
	{"Profile", "Registration, the own profile and the current principal (§5.1.1, §5.3.1, §5.3.2, §5.14.2)."},
	{"Users", "User management (§5.3, §5.4, §5.5)."},
	{"Systems", "Systems (§5.9)."},
	{"Roles", "Roles (§5.10)."},
	{"Assignments", "System-role assignments (§5.11)."},
	{"Invitations", "Invitations (§5.15.5)."},
	{"HDTS", "The help desk: employee registration and profile, employees and their management (§5.12, §5.15.3)."},
	{"TTS", "The ticket tracker: round-robin, TTS roles and assignments, user information (§5.13, §5.14.4, §5.15.4)."},
	{"Pages", "HTML pages embedded in the binary (§1.11, §5.15.8)."},
	{"Discovery", "Discovery documents and this document (§5.14, §5.15.7)."},
}

// pathParameters are the path parameters of a route path (§1.1).
func pathParameters(path string) []map[string]any {
	var params []map[string]any
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
			"description": pathParamDocs[m[1]], "schema": map[string]any{"type": "string"}})
	}
	return params
}

func operation(rt apikit.MountedRoute) (map[string]any, error) {
	d := rt.Doc
	if d == nil {
		return nil, fmt.Errorf("apidocs: %s %s has no documentation (apikit.Route.Doc)", rt.Method, rt.Path)
	}
	if d.Summary == "" || d.Tag == "" || len(d.Responses) == 0 {
		return nil, fmt.Errorf("apidocs: %s %s: a doc needs a summary, a tag and its responses", rt.Method, rt.Path)
	}
	op := map[string]any{
		"operationId": operationID(rt.Method, rt.Path),
		"summary":     d.Summary,
		"tags":        []string{d.Tag},
		"security":    security(rt.Access),
	}
	if d.Description != "" {
		op["description"] = d.Description
	}
	params := pathParameters(rt.Path)
	for _, q := range d.Query {
		p := map[string]any{"name": q.Name, "in": "query", "required": q.Required, "schema": q.Schema}
		if q.Description != "" {
			p["description"] = q.Description
		}
		if q.Schema == nil {
			p["schema"] = map[string]any{"type": "string"}
		}
		params = append(params, p)
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if d.Body != nil {
		content := map[string]any{"application/json": map[string]any{"schema": d.Body}}
		if rt.Accepts&apikit.BodyForm != 0 {
			content["application/x-www-form-urlencoded"] = map[string]any{"schema": d.Body}
		}
		if rt.Accepts&apikit.BodyMultipart != 0 {
			content["multipart/form-data"] = map[string]any{"schema": d.Body}
		}
		op["requestBody"] = map[string]any{"required": true, "content": content}
	}

	responses := map[string]any{}
	add := func(r apikit.Response) {
		key := strconv.Itoa(r.Status)
		if _, ok := responses[key]; ok {
			return
		}
		resp := map[string]any{"description": r.Description}
		content := map[string]any{}
		switch {
		case r.Status >= 400:
			content["application/json"] = map[string]any{"schema": apikit.Ref("Error")}
		case r.Schema != nil:
			content["application/json"] = map[string]any{"schema": r.Schema}
		}
		if r.HTML {
			content["text/html"] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		if len(content) > 0 {
			resp["content"] = content
		}
		responses[key] = resp
	}
	for _, r := range d.Responses {
		if r.Description == "" {
			return nil, fmt.Errorf("apidocs: %s %s: response %d has no description", rt.Method, rt.Path, r.Status)
		}
		add(r)
	}
	if !rt.Access.IsPublic() {
		add(apikit.Fail(http.StatusUnauthorized, "No credentials (`not_authenticated`), or an invalid, expired or revoked token (`token_not_valid`)."))
		if rt.Access.Level != apikit.LevelNone {
			add(apikit.Fail(http.StatusForbidden, "The caller does not have the permission level of the endpoint (`permission_denied`)."))
		}
	}
	op["responses"] = responses
	return op, nil
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	upper := true
	for _, r := range path {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if upper {
				b.WriteString(strings.ToUpper(string(r)))
			} else {
				b.WriteRune(r)
			}
			upper = false
		default:
			upper = true
		}
	}
	return b.String()
}

// security is the Auth line of §1.7 as OpenAPI requirements (alternatives): a token (header or
// cookie) for token principals, an API key for SERVICE(scope). PUBLIC: none.
func security(a apikit.Access) []map[string][]string {
	reqs := []map[string][]string{}
	if a.Kinds != 0 {
		reqs = append(reqs, map[string][]string{"bearerAuth": {}}, map[string][]string{"cookieAuth": {}})
	}
	if a.Scope != "" {
		reqs = append(reqs, map[string][]string{"apiKeyAuth": {a.Scope}})
	}
	return reqs
}

// mustJSON encodes the document once; the document is built from code, so an error is a bug.
func mustJSON(doc map[string]any) []byte {
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}
