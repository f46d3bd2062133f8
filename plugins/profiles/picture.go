package profiles

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif"  // registers the GIF decoder
	_ "image/jpeg" // registers the JPEG decoder
	_ "image/png"  // registers the PNG decoder
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"

	_ "golang.org/x/image/webp" // registers the WebP decoder

	"github.com/gabriel-vasile/mimetype"
	"github.com/pocketbase/pocketbase/tools/filesystem"
)

// Messages of the profile_picture rule (§1.16).
const (
	MsgPictureTooLarge = "Profile picture file size must be less than 2MB."
	MsgPictureInvalid  = "Invalid image file."
)

// MsgPictureTooWide is "Image dimensions must not exceed <n>x<n> pixels." (1024 by default).
func MsgPictureTooWide(maxPx int) string {
	return fmt.Sprintf("Image dimensions must not exceed %dx%d pixels.", maxPx, maxPx)
}

// pictureFormats maps the sniffed content type to the image package's format name and the
// stored file extension.
var pictureFormats = map[string]struct{ format, ext string }{
	"image/png":  {"png", ".png"},
	"image/jpeg": {"jpeg", ".jpg"},
	"image/gif":  {"gif", ".gif"},
	"image/webp": {"webp", ".webp"},
}

// CheckPicture applies the profile_picture rule of §1.16 to an uploaded part, in the rule
// order of the contract: size ≤ maxBytes, content (sniffed, never the file name) PNG, JPEG, GIF
// or WebP that decodes, width and height ≤ maxPx (checked from the header before the pixels are
// decoded, so a huge canvas is never allocated). It returns the file to store (named after the
// upload with the extension of the real format), or a validation message for the field, or an
// error when the part cannot be read.
func CheckPicture(fh *multipart.FileHeader, maxBytes int64, maxPx int) (*filesystem.File, string, error) {
	if fh.Size > maxBytes {
		return nil, MsgPictureTooLarge, nil
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(data)) > maxBytes {
		return nil, MsgPictureTooLarge, nil
	}
	if len(data) == 0 {
		return nil, MsgPictureInvalid, nil
	}
	sniffed := http.DetectContentType(data)
	kind, ok := pictureFormats[sniffed]
	if !ok || !mimetype.Detect(data).Is(sniffed) {
		// (the second sniffer is the one PocketBase's file field checks on save: an animated
		// PNG is image/apng to it, outside the field's types, and would fail the save with a 500)
		return nil, MsgPictureInvalid, nil
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || format != kind.format {
		return nil, MsgPictureInvalid, nil
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, MsgPictureInvalid, nil
	}
	if cfg.Width > maxPx || cfg.Height > maxPx {
		return nil, MsgPictureTooWide(maxPx), nil
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return nil, MsgPictureInvalid, nil
	}
	base := strings.TrimSuffix(filepath.Base(fh.Filename), filepath.Ext(fh.Filename))
	if base == "" || base == "." || base == string(filepath.Separator) {
		base = "profile_picture"
	}
	file, err := filesystem.NewFileFromBytes(data, base+kind.ext)
	if err != nil {
		return nil, "", err
	}
	return file, "", nil
}
