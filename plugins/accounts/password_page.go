package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/apikit"
)

// The HTML variants of page endpoints (§1.11) are static files of pb_public, the folder main.go
// embeds into the binary and server.Register serves as static files.

// resetPageFile is the reset-password page (§5.15.8), also the HTML variant of
// GET /api/v1/users/password/reset/ (§5.6.3).
const resetPageFile = "reset-password/index.html"

// publicFSKey is the app.Store() key of the embedded pb_public file system (see SetPublicFS).
const publicFSKey = "gatehouse.accounts.publicFS"

// SetPublicFS makes the embedded pb_public folder (the fs.FS that main.go passes as
// server.Options.Public) available to the page endpoints of this plugin. server.Register is
// meant to call it once with opts.Public; nil is ignored.
func SetPublicFS(app core.App, fsys fs.FS) {
	if fsys != nil {
		app.Store().Set(publicFSKey, fsys)
	}
}

func publicFS(app core.App) fs.FS {
	fsys, _ := app.Store().Get(publicFSKey).(fs.FS)
	return fsys
}

var errNoPublicFS = errors.New("accounts: pb_public is not available to page endpoints")

// servePage answers 200 text/html with a page of pb_public and the headers of §1.11 (Vary:
// Accept comes from the route table). No redirect, whatever the slash form of the request.
func (p *plugin) servePage(e *core.RequestEvent, name string) error {
	page, err := pageBytes(e, name)
	if err != nil {
		return err
	}
	apikit.SetPageHeaders(e)
	h := e.Response.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	e.Response.WriteHeader(http.StatusOK)
	if e.Request.Method == http.MethodHead {
		return nil
	}
	_, err = e.Response.Write(page)
	return err
}

// pageBytes reads name from the pb_public file system given to SetPublicFS. Until the server
// wiring provides it, the page is fetched in-process from the running server's own static
// route (the same embedded file), so the binary serves the page either way.
func pageBytes(e *core.RequestEvent, name string) ([]byte, error) {
	if fsys := publicFS(e.App); fsys != nil {
		return fs.ReadFile(fsys, name)
	}
	return staticRoutePage(e, name)
}

// staticRoutePage asks the http.Server that received e for GET /<dir>/ (the directory of name,
// slash form: the static route serves its index.html without a redirect) and returns the
// body of a 200 text/html answer.
func staticRoutePage(e *core.RequestEvent, name string) ([]byte, error) {
	dir, file, ok := strings.Cut(name, "/")
	if !ok || file != "index.html" || dir == "" {
		return nil, fmt.Errorf("%w: %s", errNoPublicFS, name)
	}
	ctx := e.Request.Context()
	srv, _ := ctx.Value(http.ServerContextKey).(*http.Server)
	if srv == nil || srv.Handler == nil || ctx.Value(pageFetchKey{}) != nil {
		return nil, errNoPublicFS // (never recurse if the static path itself leads back here)
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, pageFetchKey{}, true), http.MethodGet, "/"+dir+"/", http.NoBody)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = e.Request.RemoteAddr
	rec := &pageRecorder{header: http.Header{}}
	srv.Handler.ServeHTTP(rec, req)
	if rec.status != http.StatusOK || !strings.HasPrefix(rec.header.Get("Content-Type"), "text/html") {
		return nil, fmt.Errorf("%w: GET /%s/ answered %d", errNoPublicFS, dir, rec.status)
	}
	return rec.body.Bytes(), nil
}

// pageFetchKey marks the context of an in-process page fetch.
type pageFetchKey struct{}

// pageRecorder is a minimal in-memory http.ResponseWriter.
type pageRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *pageRecorder) Header() http.Header { return r.header }

func (r *pageRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *pageRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
