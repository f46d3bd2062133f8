package captcha

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math"
	mrand "math/rand/v2"

	dcaptcha "github.com/dchest/captcha"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Rendering.
//
// github.com/dchest/captcha draws only the digits 0–9 (its font is unexported and NewImage
// indexes it by digit value), while §5.8/§7.1 require 6 characters from a 29-character
// alphabet of letters and digits. Mapping 29 symbols onto 10 glyphs would make the image
// ambiguous, and a digits-only challenge would not have the contract's alphabet (6 × log2 29 ≈
// 29 bits instead of 6 × log2 10 ≈ 20). So the image is built in two layers on one canvas:
//
//  1. dchest/captcha.NewImage(id, no digits, 200, 60) renders its usual random palette, wavy
//     strike-through line, wave distortion and noise circles — its own noise generator, used
//     as is through its public API;
//  2. the answer's characters are drawn in dchest's style on that canvas, in its primary
//     colour: each pixel of the glyph (from the public-domain X11 7×13 bitmap font of
//     golang.org/x/image/font/basicfont, which has every letter and digit) becomes a dot,
//     each character gets a random skew and vertical jitter, the text layer gets its own wave
//     distortion, and extra noise lines and dots are drawn over it.
//
// The text is painted over dchest's layer (its light noise circles would otherwise eat the thin
// strokes of a 60-px-high image); the extra noise lines and dots then go over the text.

const (
	dotSize    = 3 // pixels per font pixel
	dotRadius  = 1
	noiseDots  = 120
	noiseLines = 2
	maxSkew    = 0.5 // horizontal shift per glyph row, in pixels
	maxJitterY = 3
	minGap     = 3
	maxGap     = 7
	primaryIdx = 1 // dchest's primary colour index
)

var opaque = color.Alpha{A: 0xff}

// glyph is a bitmap of one character: rows of columns, true = ink.
type glyph [][]bool

// glyphs holds the bitmaps of the alphabet, cropped to the common ink box of the alphabet.
var glyphs = buildGlyphs(Alphabet)

func buildGlyphs(alphabet string) map[byte]glyph {
	face := basicfont.Face7x13
	raw := make(map[byte]glyph, len(alphabet))
	top, bottom, left, right := math.MaxInt, -1, math.MaxInt, -1
	for i := 0; i < len(alphabet); i++ {
		c := alphabet[i]
		dr, mask, mp, _, ok := face.Glyph(fixed.P(0, face.Ascent), rune(c))
		if !ok {
			panic(fmt.Sprintf("captcha: no glyph for %q", c))
		}
		g := make(glyph, dr.Dy())
		for y := 0; y < dr.Dy(); y++ {
			g[y] = make([]bool, dr.Dx())
			for x := 0; x < dr.Dx(); x++ {
				_, _, _, a := mask.At(mp.X+x, mp.Y+y).RGBA()
				if a > 0 {
					g[y][x] = true
					top, bottom = min(top, y), max(bottom, y)
					left, right = min(left, x), max(right, x)
				}
			}
		}
		raw[c] = g
	}
	out := make(map[byte]glyph, len(raw))
	for c, g := range raw {
		cropped := make(glyph, 0, bottom-top+1)
		for y := top; y <= bottom; y++ {
			cropped = append(cropped, g[y][left:right+1])
		}
		out[c] = cropped
	}
	return out
}

// newRand returns a math/rand generator seeded from crypto/rand (the rendering noise need not
// be a CSPRNG, but it must not be predictable across challenges).
func newRand() (*mrand.Rand, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, err
	}
	return mrand.New(mrand.NewChaCha8(seed)), nil
}

func randFloat(r *mrand.Rand, from, to float64) float64 { return from + r.Float64()*(to-from) }
func randInt(r *mrand.Rand, from, to int) int           { return from + r.IntN(to-from+1) }

// renderPNG draws text (characters of Alphabet) on a width×height PNG.
func renderPNG(text string, width, height int) ([]byte, error) {
	rng, err := newRand()
	if err != nil {
		return nil, err
	}
	var seedID [16]byte
	binary.LittleEndian.PutUint64(seedID[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(seedID[8:], rng.Uint64())

	// Layer 1: dchest's palette, strike-through, distortion and noise circles.
	img := dcaptcha.NewImage(fmt.Sprintf("%x", seedID), nil, width, height)
	canvas := img.Paletted

	// Layer 2: the text, dotted, skewed, jittered, then wave-distorted.
	text2 := image.NewAlpha(image.Rect(0, 0, width, height))
	gw, gh := 0, 0
	for i := 0; i < len(text); i++ {
		g, ok := glyphs[text[i]]
		if !ok {
			return nil, fmt.Errorf("captcha: character %q outside the alphabet", text[i])
		}
		gh = max(gh, len(g))
		gw = max(gw, len(g[0]))
	}
	gaps := make([]int, len(text))
	total := 0
	for i := range text {
		if i > 0 {
			gaps[i] = randInt(rng, minGap, maxGap)
		}
		total += gaps[i] + gw*dotSize
	}
	x0 := randInt(rng, 8, max(8, width-total-8))
	y0 := (height-gh*dotSize)/2 + randInt(rng, -2, 2)
	x := x0
	for i := 0; i < len(text); i++ {
		g := glyphs[text[i]]
		x += gaps[i]
		skew := randFloat(rng, -maxSkew, maxSkew)
		y := y0 + randInt(rng, -maxJitterY, maxJitterY)
		for row := range g {
			shift := int(math.Round(skew * float64(row-len(g)/2)))
			for col, ink := range g[row] {
				if ink {
					fillCircle(text2, x+col*dotSize+shift, y+row*dotSize, dotRadius)
				}
			}
		}
		x += gw * dotSize
	}
	warped := distort(text2, randFloat(rng, 2, 3.5), randFloat(rng, 90, 160))

	b := canvas.Bounds()
	for py := b.Min.Y; py < b.Max.Y; py++ {
		for px := b.Min.X; px < b.Max.X; px++ {
			if warped.AlphaAt(px, py).A != 0 {
				canvas.SetColorIndex(px, py, primaryIdx)
			}
		}
	}

	// Extra noise over the text: thin wavy lines and dots in dchest's palette colours.
	colors := len(canvas.Palette)
	for i := 0; i < noiseLines; i++ {
		yBase := randFloat(rng, float64(height)/4, float64(height)*3/4)
		amp := randFloat(rng, 3, 8)
		period := randFloat(rng, 60, 160)
		phase := randFloat(rng, 0, 2*math.Pi)
		idx := uint8(randInt(rng, 1, colors-1))
		for px := 0; px < width; px++ {
			py := int(yBase + amp*math.Sin(phase+2*math.Pi*float64(px)/period))
			canvas.SetColorIndex(px, py, idx)
		}
	}
	for i := 0; i < noiseDots; i++ {
		canvas.SetColorIndex(rng.IntN(width), rng.IntN(height), uint8(randInt(rng, 1, colors-1)))
	}

	var buf bytes.Buffer
	if _, err := img.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fillCircle(m *image.Alpha, cx, cy, r int) {
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy <= r*r+r {
				m.SetAlpha(cx+dx, cy+dy, opaque)
			}
		}
	}
}

// distort applies a sine wave displacement in both directions (as dchest does to its layer).
func distort(src *image.Alpha, amplitude, period float64) *image.Alpha {
	b := src.Bounds()
	dst := image.NewAlpha(b)
	dx := 2 * math.Pi / period
	for x := b.Min.X; x < b.Max.X; x++ {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			xo := amplitude * math.Sin(float64(y)*dx)
			yo := amplitude * math.Cos(float64(x)*dx)
			dst.SetAlpha(x, y, src.AlphaAt(x+int(xo), y+int(yo)))
		}
	}
	return dst
}
