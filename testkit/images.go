package testkit

import (
	"encoding/binary"
	"hash/crc32"
)

// AnimatedPNG turns a PNG into an APNG's first bytes: an acTL chunk (1 frame, no loops) right
// after IHDR. Go's image/png still decodes it (it skips the chunk), and net/http sniffs
// image/png, while PocketBase's file field (gabriel-vasile/mimetype) calls it image/apng.
func AnimatedPNG(png []byte) []byte {
	const afterIHDR = 8 + 8 + 13 + 4 // signature, IHDR length+type, IHDR data, CRC
	chunk := make([]byte, 0, 20)
	chunk = binary.BigEndian.AppendUint32(chunk, 8)
	chunk = append(chunk, "acTL"...)
	chunk = binary.BigEndian.AppendUint32(chunk, 1) // num_frames
	chunk = binary.BigEndian.AppendUint32(chunk, 0) // num_plays
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := append([]byte{}, png[:afterIHDR]...)
	out = append(out, chunk...)
	return append(out, png[afterIHDR:]...)
}
