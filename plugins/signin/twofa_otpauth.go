package signin

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/url"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/secondfactor"
)

// totpQRSize is the edge of the setup QR code in pixels.
const totpQRSize = secondfactor.QRCodeSize

// totpIssuer is the PocketBase application name (§5.7.1), "Gatehouse" when it is empty.
func totpIssuer(app core.App) string {
	if name := strings.TrimSpace(app.Settings().Meta.AppName); name != "" {
		return name
	}
	return "Gatehouse"
}

// uriEscape percent-encodes s for the otpauth URL: spaces as %20 (authenticator apps do not
// read "+" as a space), so the issuer is encoded the same way in the label and the query.
func uriEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// otpauthURL is the setup URL of §5.7.1, with its parameters in the contract's order:
// otpauth://totp/<issuer>:<email>?secret=<secret>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30
// where <issuer> is URL-encoded.
func otpauthURL(issuer, email, secret string) string {
	return "otpauth://totp/" + uriEscape(issuer) + ":" + url.PathEscape(email) +
		"?secret=" + secret + "&issuer=" + uriEscape(issuer) + "&algorithm=SHA1&digits=6&period=30"
}

// qrDataURL renders text as a QR code PNG in a data URL.
func qrDataURL(text string) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	code, err = barcode.Scale(code, totpQRSize, totpQRSize)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, code); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
