// Command baseline is the machine's ceiling for bench/run.sh: a bare net/http server whose every
// GET answers 200 with one fixed JSON body of the size and shape of a token-validate answer
// (a UserProfile with two assignments, ~800 bytes). No router, no middleware, no database.
//
//	baseline [-addr 127.0.0.1:0]
//
// It prints the address it listens on as its first line (so the caller needs no free-port
// probe) and serves until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

// body mirrors GET /api/v1/users/token/validate/ for a staff user with two assignments.
const body = `{"id":"k3x9v2m7q1w8e5t","email":"bench.reader@example.com","username":"bench.reader",` +
	`"first_name":"Bench","middle_name":null,"last_name":"Reader","suffix":null,` +
	`"phone_number":"+639171234567","company_id":"MA0001","department":"IT Department",` +
	`"status":"Approved","notified":false,"is_active":true,"is_staff":false,"is_superuser":false,` +
	`"is_locked":false,"profile_picture":null,"date_joined":"2026-11-26T04:27:13.512Z",` +
	`"last_login":"2026-11-26T08:02:41.006Z","otp_enabled":false,"otp_method":null,"system_roles":[` +
	`{"id":"a55ign000000042","system_id":"tts0sys00000001","system_name":"Ticket Tracking System",` +
	`"system_slug":"tts","role_id":"r0le00000000017","role_name":"Admin",` +
	`"assigned_at":"2026-11-26T05:00:00.000Z","last_logged_on":"2026-11-26T08:02:41.006Z","is_active":true},` +
	`{"id":"a55ign000000043","system_id":"hdts0sys0000001","system_name":"Help Desk Ticketing System",` +
	`"system_slug":"hdts","role_id":"r0le00000000018","role_name":"Admin",` +
	`"assigned_at":"2026-11-26T05:00:00.000Z","last_logged_on":"2026-11-26T08:02:41.006Z","is_active":true}],` +
	`"token_validated_at":"2026-11-26T08:03:00.000Z","token_expires_at":"2026-11-26T08:07:41.000Z"}`

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	payload := []byte(body)
	length := strconv.Itoa(len(payload))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, `{"detail":"method not allowed"}`, http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(payload)
	})

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, l.Addr().String())
	log.Fatal(http.Serve(l, h))
}
