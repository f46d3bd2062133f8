// Command benchtool holds the small helpers of bench/run.sh that are awkward in bash:
//
//	benchtool freeport                        print a free TCP port on 127.0.0.1
//	benchtool waithealth URL TIMEOUT_MS PID   poll URL/api/health every 2 ms; print the Unix time
//	                                          (ns) of the first 200; fail early when PID exits
//	benchtool json PATH                       print the value at PATH (a.b.0.c) of the JSON on stdin
//	benchtool cost URL TOKEN COLLECTION       print the bcrypt cost of COLLECTION's password field
//	                                          (PocketBase's default 10 when unset)
//	benchtool setcost URL TOKEN COLLECTION COST
//	                                          set the bcrypt cost of COLLECTION's password field
//	                                          (superuser TOKEN; PocketBase's collections API)
//	benchtool sessions URL EMAIL PASSWORD N   log EMAIL in N times (a few at once) through
//	                                          POST /api/v1/users/login/; print N refresh tokens,
//	                                          one per line (N independent sessions)
//
// Only loopback URLs are accepted.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchtool freeport|waithealth|json|cost|setcost|sessions ...")
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freePort()
	case "waithealth":
		err = waitHealth(args)
	case "json":
		err = jsonPath(args)
	case "cost":
		err = getCost(args)
	case "setcost":
		err = setCost(args)
	case "sessions":
		err = sessions(args)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchtool:", msg)
	os.Exit(1)
}

var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func loopback(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return "", fmt.Errorf("refusing non-loopback URL %s", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

func waitHealth(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: waithealth URL TIMEOUT_MS PID")
	}
	base, err := loopback(args[0])
	if err != nil {
		return err
	}
	timeoutMS, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Duration(timeoutMS) * time.Millisecond)
	for time.Now().Before(deadline) {
		res, err := c.Get(base + "/api/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				fmt.Println(time.Now().UnixNano())
				return nil
			}
		}
		if syscall.Kill(pid, 0) != nil {
			return fmt.Errorf("process %d exited before answering /api/health", pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("no 200 on %s/api/health within %d ms", base, timeoutMS)
}

func jsonPath(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: json PATH < doc.json")
	}
	var v any
	if err := json.NewDecoder(os.Stdin).Decode(&v); err != nil {
		return fmt.Errorf("json: %v", err)
	}
	for _, key := range strings.Split(args[0], ".") {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[key]
			if !ok {
				return fmt.Errorf("json: no %q in path %s", key, args[0])
			}
			v = next
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				return fmt.Errorf("json: bad index %q in path %s", key, args[0])
			}
			v = node[i]
		default:
			return fmt.Errorf("json: %q is not inside an object or array (path %s)", key, args[0])
		}
	}
	if s, ok := v.(string); ok {
		fmt.Println(s)
		return nil
	}
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
	return nil
}

func do(method, u, token string, body any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return out, fmt.Errorf("%s %s: %d %s", method, u, res.StatusCode, out)
	}
	return out, nil
}

// passwordField fetches COLLECTION (superuser TOKEN) and returns its fields and the password one.
func passwordField(base, token, collection string) (string, []map[string]any, map[string]any, error) {
	u := base + "/api/collections/" + url.PathEscape(collection)
	raw, err := do(http.MethodGet, u, token, nil)
	if err != nil {
		return "", nil, nil, err
	}
	var col struct {
		Fields []map[string]any `json:"fields"`
	}
	if err := json.Unmarshal(raw, &col); err != nil {
		return "", nil, nil, err
	}
	for _, f := range col.Fields {
		if f["name"] == "password" && f["type"] == "password" {
			return u, col.Fields, f, nil
		}
	}
	return "", nil, nil, fmt.Errorf("collection %s has no password field", collection)
}

func getCost(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: cost URL TOKEN COLLECTION")
	}
	base, err := loopback(args[0])
	if err != nil {
		return err
	}
	_, _, f, err := passwordField(base, args[1], args[2])
	if err != nil {
		return err
	}
	cost, _ := f["cost"].(float64)
	if cost <= 0 {
		cost = 10 // bcrypt.DefaultCost, as PocketBase hashes
	}
	fmt.Println(int(cost))
	return nil
}

func setCost(args []string) error {
	if len(args) != 4 {
		return errors.New("usage: setcost URL TOKEN COLLECTION COST")
	}
	base, err := loopback(args[0])
	if err != nil {
		return err
	}
	cost, err := strconv.Atoi(args[3])
	if err != nil {
		return err
	}
	u, fields, f, err := passwordField(base, args[1], args[2])
	if err != nil {
		return err
	}
	f["cost"] = cost
	_, err = do(http.MethodPatch, u, args[1], map[string]any{"fields": fields})
	return err
}

func sessions(args []string) error {
	if len(args) != 4 {
		return errors.New("usage: sessions URL EMAIL PASSWORD N")
	}
	base, err := loopback(args[0])
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(args[3])
	if err != nil || n < 1 {
		return fmt.Errorf("bad N %q", args[3])
	}
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // the server's bcrypt pool is 2 × cores: stay inside it
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			raw, err := do(http.MethodPost, base+"/api/v1/users/login/", "",
				map[string]string{"email": args[1], "password": args[2]})
			if err != nil {
				errs[i] = err
				return
			}
			var res struct{ Refresh string }
			if err := json.Unmarshal(raw, &res); err != nil || res.Refresh == "" {
				errs[i] = fmt.Errorf("login answer without refresh token: %s", raw)
				return
			}
			tokens[i] = res.Refresh
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Println(strings.Join(tokens, "\n"))
	return nil
}
