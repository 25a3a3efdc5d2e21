package event

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The record scanner: one pass over a record value that validates it as strict JSON and
// picks out the known fields, in place of validating and then parsing it with a general JSON
// library. What it accepts and what it reads (docs/SEMANTICS.md, "Records and outcomes"):
//
//   - The value must be valid UTF-8 and strictly valid JSON (RFC 8259): no leading zeros,
//     NaN, Infinity or trailing commas, no raw control characters in strings, only the
//     escapes \" \\ \/ \b \f \n \r \t \uXXXX, the literals true, false and null exactly, and
//     only space, \t, \n and \r between tokens.
//   - No value may be nested deeper than maxDepth, counting the top-level object as depth 1
//     and a scalar as a level of its own: an array 300 levels deep is accepted only empty.
//   - The top-level value must be an object.
//   - Keys are compared after unescaping, so "event\u005fid" is event_id.
//   - A key that appears more than once resolves to one occurrence: see resolve. Unless a
//     known key is also spelled with escapes, that is the first occurrence.
//     The occurrences not chosen only need to be valid JSON: their type does not matter.
//   - A known string field must be a string or null, spam true, false or null; another
//     type makes the record malformed. scene is the exception: only a buyer message reads
//     it, so the scanner only notes its type and check judges it (see check).
//   - Strings are unescaped as encoding/json does. That includes a \u escape of a surrogate
//     that is not half of a valid pair: it reads as U+FFFD.
//
// The test oracle (FuzzDecodeMatchesOracle) is a decoder built on a general JSON parser;
// the two agree on every input apart from such lone surrogates.

// maxDepth bounds nesting, so that a hostile record costs linear time and bounded stack.
const maxDepth = 300

// The known fields, in the order resolve settles them.
const (
	fEventID = iota
	fShopID
	fBuyerID
	fTS
	fSender
	fAgentID
	fType
	fOrderID
	fAmount
	fRefundID
	fRefundRequestedAt
	fCompletedBy
	fSpam
	fScene // last: the oracle looks it up after every other field (see resolve)
	nFields
)

// fieldNames are the keys of the known fields.
var fieldNames = [nFields]string{
	fEventID: "event_id", fShopID: "shop_id", fBuyerID: "buyer_id", fTS: "ts", fSender: "sender",
	fAgentID: "agent_id", fType: "type", fOrderID: "order_id", fAmount: "amount",
	fRefundID: "refund_id", fRefundRequestedAt: "refund_requested_at",
	fCompletedBy: "completed_by", fSpam: "spam", fScene: "scene",
}

// field returns the known field a key names, or -1. Length and first byte tell the known
// keys apart, so one comparison decides.
func field(key []byte) int {
	var f int
	switch len(key) {
	case 2:
		f = fTS
	case 4:
		f = fSpam
		if key[0] == 't' {
			f = fType
		}
	case 5:
		f = fScene
	case 6:
		f = fAmount
		if key[0] == 's' {
			f = fSender
		}
	case 7:
		f = fShopID
	case 8:
		switch key[0] {
		case 'e':
			f = fEventID
		case 'b':
			f = fBuyerID
		case 'a':
			f = fAgentID
		default:
			f = fOrderID
		}
	case 9:
		f = fRefundID
	case 12:
		f = fCompletedBy
	case 19:
		f = fRefundRequestedAt
	default:
		return -1
	}
	if string(key) != fieldNames[f] {
		return -1
	}
	return f
}

// quickKey reads the common key: under 16 bytes, printable ASCII, no escapes, at b[i:] after
// its opening quote, with 16 bytes of record left. It returns the index after the closing
// quote and the field, or end 0 for a key it leaves to scanString and field.
func quickKey(b []byte, i int) (end, f int) {
	if len(b)-i < 16 {
		return 0, -1
	}
	// special8 flags every byte that is not plain, so when its lowest flag is on a '"', that
	// is the first byte that is not plain: the closing quote.
	x := load8(b, i)
	if m := special8(x); m != 0 {
		k := bits.TrailingZeros64(m) >> 3
		if b[i+k] != '"' {
			return 0, -1
		}
		x &= 1<<(8*k) - 1
		switch {
		case k == 2 && x == wTS:
			f = fTS
		case k == 4 && x == wType:
			f = fType
		case k == 4 && x == wSpam:
			f = fSpam
		case k == 5 && x == wScene:
			f = fScene
		case k == 6 && x == wSender:
			f = fSender
		case k == 6 && x == wAmount:
			f = fAmount
		case k == 7 && x == wShopID:
			f = fShopID
		default:
			f = -1
		}
		return i + k + 1, f
	}
	y := load8(b, i+8)
	m := special8(y)
	if m == 0 {
		return 0, -1
	}
	k := bits.TrailingZeros64(m) >> 3
	if b[i+8+k] != '"' {
		return 0, -1
	}
	y &= 1<<(8*k) - 1
	switch {
	case k == 0 && x == wEventID:
		f = fEventID
	case k == 0 && x == wBuyerID:
		f = fBuyerID
	case k == 0 && x == wAgentID:
		f = fAgentID
	case k == 0 && x == wOrderID:
		f = fOrderID
	case k == 1 && x == wRefundI && y == 'd':
		f = fRefundID
	case k == 4 && x == wComplete && y == wDBy:
		f = fCompletedBy
	default:
		f = -1
	}
	return i + 8 + k + 1, f
}

// The known keys as load8 reads them, in words of up to eight bytes.
var (
	wTS, wType, wSpam, wScene, wSender, wAmount = word("ts"), word("type"), word("spam"), word("scene"), word("sender"), word("amount")
	wShopID, wEventID, wBuyerID, wAgentID       = word("shop_id"), word("event_id"), word("buyer_id"), word("agent_id")
	wOrderID, wRefundI, wComplete, wDBy         = word("order_id"), word("refund_i"), word("complete"), word("d_by")
)

func word(s string) (w uint64) {
	for i := len(s) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	return w
}

// The JSON types a known field's value can have, as far as decoding cares.
const (
	kNull    uint8 = iota + 1
	kString        // without escapes: the value is the record's bytes [off, end)
	kEscaped       // with escapes: the unescaped value is Decoder.buf[off:end]
	kTrue
	kFalse
	kOther // number, object or array
)

// slot is one occurrence of a known field: its type and, for a string, where its value is.
type slot struct {
	kind     uint8
	off, end int32
}

// The field bit sets below are uint16: this fails to compile when the fields outgrow them.
const _ = uint16(1 << (nFields - 1))

// occurrences are the slots a record's known fields can resolve to. A slot is read only when
// its bit in have or hasLate is set, so the arrays need no clearing between records.
type occurrences struct {
	first   [nFields]slot // each field's first occurrence, however its key was spelled
	late    [nFields]slot // its first occurrence spelled without escapes, after an escaped one
	have    uint16        // fields with a first occurrence
	escaped uint16        // fields whose first occurrence had an escaped key
	hasLate uint16        // fields with a late occurrence
}

// resolve leaves in first, for each field, the occurrence that counts. Fields are settled in
// the order of the fields constant: a field takes its first occurrence spelled without
// escapes, unless an earlier field, or this one, has no such spelling, in which case every
// key of the object counts unescaped from then on and the first match after unescaping
// wins. (This is the documented rule of SEMANTICS.md: a key spelled with escapes yields to
// the same key spelled plainly anywhere in the record.) Without escaped spellings of
// known keys (every real producer), that is the first occurrence.
func (o *occurrences) resolve() {
	if o.escaped == 0 {
		return
	}
	unescaped := false
	for f := range nFields {
		bit := uint16(1) << f
		if !unescaped {
			if o.have&^o.escaped&bit != 0 {
				continue // the first occurrence is spelled without escapes
			}
			if o.hasLate&bit != 0 {
				o.first[f] = o.late[f]
				continue
			}
		}
		unescaped = true
	}
}

// scan reads a record value into w; false means malformed. w's strings are views of b and
// d.buf.
func (d *Decoder) scan(b []byte, w *wire) bool {
	buf := d.buf[:0]
	o := &d.occ
	o.have, o.escaped, o.hasLate = 0, 0, 0
	n := len(b)
	i := skipWS(b, 0)
	if i >= n || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < n && b[i] == '}' {
		i++
	} else {
		for {
			// A member: key.
			if i >= n || b[i] != '"' {
				return false
			}
			ks := i + 1
			var f int
			var esc, ok bool
			if end, kf := quickKey(b, ks); end > 0 {
				i, f = end, kf
			} else {
				if i, esc, ok = scanString(b, ks); !ok {
					return false
				}
				if !esc {
					f = field(b[ks : i-1])
				} else {
					d.key, _ = AppendUnescaped(d.key[:0], b[ks:i-1]) // scanString checked the escapes
					f = field(d.key)
				}
			}
			i = skipWS(b, i)
			if i >= n || b[i] != ':' {
				return false
			}
			i = skipWS(b, i+1)
			if i >= n {
				return false
			}

			// Value: stored when it is an occurrence resolve may choose.
			var s *slot
			if f >= 0 {
				bit := uint16(1) << f
				switch {
				case o.have&bit == 0:
					s = &o.first[f]
					o.have |= bit
					if esc {
						o.escaped |= bit
					}
				case !esc && o.escaped&bit != 0 && o.hasLate&bit == 0:
					s = &o.late[f]
					o.hasLate |= bit
				}
			}
			if s == nil {
				if i, ok = skipValue(b, i, 1); !ok {
					return false
				}
			} else {
				switch b[i] {
				case '"':
					start := i + 1
					var vesc bool
					if i, vesc, ok = scanString(b, start); !ok {
						return false
					}
					if vesc {
						s.kind, s.off = kEscaped, int32(len(buf))
						buf, _ = AppendUnescaped(buf, b[start:i-1]) // scanString checked the escapes
						s.end = int32(len(buf))
					} else {
						s.kind, s.off, s.end = kString, int32(start), int32(i-1)
					}
				case 'n':
					s.kind, ok = kNull, hasLiteral(b, i, "null")
					i += 4
				case 't':
					s.kind, ok = kTrue, hasLiteral(b, i, "true")
					i += 4
				case 'f':
					s.kind, ok = kFalse, hasLiteral(b, i, "false")
					i += 5
				default:
					s.kind = kOther
					i, ok = skipValue(b, i, 1)
				}
				if !ok {
					return false
				}
			}

			// After the value: ',' or '}'.
			i = skipWS(b, i)
			if i >= n {
				return false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return false
			}
			i = skipWS(b, i+1)
		}
	}
	if skipWS(b, i) != n {
		return false
	}
	d.buf = buf

	// The occurrence of each field that counts.
	o.resolve()
	ok := true
	for f, dst := range [...]*string{
		&w.EventID, &w.ShopID, &w.BuyerID, &w.TS, &w.Sender, &w.AgentID, &w.Type, &w.OrderID,
		&w.Amount, &w.RefundID, &w.RefundRequestedAt, &w.CompletedBy,
	} {
		if o.have&(1<<f) == 0 {
			continue
		}
		switch s := &o.first[f]; s.kind {
		case kNull:
		case kString:
			*dst = view(b[s.off:s.end])
		case kEscaped:
			*dst = view(buf[s.off:s.end])
		default:
			ok = false
		}
	}
	if o.have&(1<<fSpam) != 0 {
		switch o.first[fSpam].kind {
		case kNull, kFalse:
		case kTrue:
			w.Spam = true
		default:
			ok = false
		}
	}
	if o.have&(1<<fScene) != 0 {
		switch s := &o.first[fScene]; s.kind {
		case kNull:
		case kString:
			w.Scene, w.SceneIs = view(b[s.off:s.end]), sceneString
		case kEscaped:
			w.Scene, w.SceneIs = view(buf[s.off:s.end]), sceneString
		default:
			w.SceneIs = sceneOther // malformed on a buyer message only: check decides
		}
	}
	return ok
}

// view is b as a string without a copy. The bytes must not change while the string is used:
// wire's strings live only until Decode returns, and own copies the ones an Event keeps.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func skipWS(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return i
		}
	}
	return i
}

// hasLiteral reports whether b holds lit at i.
func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// plain marks the bytes a JSON string may hold as they are and the scanner need not look at
// further: printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// load8 reads the eight bytes at b[i:], which the caller has checked are there, without the
// bounds checks.
func load8(b []byte, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i)), 8))
}

// special8 has the high bit set in the byte lanes of x that are not plain (control
// characters, '"', '\\', non-ASCII), and maybe in lanes above one that is not: subtracting
// borrows only out of a lane that is not plain, so the lowest set bit marks the first byte
// that is not plain, and a zero means all eight are.
func special8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	ctl := x - lo*0x20                // lanes below 0x20 wrap to >= 0xe0
	quo := (x ^ lo*'"') - lo          // '"' lanes become 0 and wrap to 0xff
	bsl := (x ^ lo*'\\') - lo         // so do '\\' lanes
	return (ctl | quo | bsl | x) & hi // and x has the high bit of non-ASCII lanes
}

// scanString validates a string whose opening quote is at i-1: no raw control characters,
// only JSON's escapes, valid UTF-8. It returns the index after the closing quote and whether
// there were escapes.
func scanString(b []byte, i int) (end int, esc, ok bool) {
	n := len(b)
	for {
		// To the first byte that is not plain: eight at a time, one by one near the end.
		if i+8 <= n {
			m := special8(load8(b, i))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else {
			for i < n && plain[b[i]] {
				i++
			}
			if i >= n {
				return i, esc, false
			}
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			if i+1 >= n {
				return i, esc, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					return i, esc, false
				}
				i += 6
			default:
				return i, esc, false
			}
		case c < 0x20:
			return i, esc, false
		default: // c >= 0x80 (or plain, were special8 to overreach: decoded as itself)
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, esc, false
			}
			i += size
		}
	}
}

// hex4 reads the four hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if len(b)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// AppendUnescaped appends the unescaped contents of a JSON string (without its quotes) to
// dst and reports whether every escape in it is valid. A \u escape of a surrogate that does
// not start a valid pair reads as U+FFFD, as in encoding/json; other bytes, valid UTF-8 or
// not, are kept as they are.
func AppendUnescaped(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] != '\\' {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		if j+1 == len(s) {
			return dst, false
		}
		c := s[j+1]
		i = j + 2
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s, i)
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok = hex4(s, i+2)
				}
				if pair := utf16.DecodeRune(r, r2); ok && pair != utf8.RuneError {
					r = pair
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		case '"', '\\', '/':
			dst = append(dst, c)
		default:
			return dst, false
		}
	}
	return dst, true
}

// skipValue validates the value at i, which has nesting enclosing containers, and returns the
// index after it.
func skipValue(b []byte, i, nesting int) (int, bool) {
	var obj [(maxDepth + 63) / 64]uint64 // bit l: the container opened at level l is an object
	level := 0                           // containers open within this value
	n := len(b)
	var ok bool
	for {
		// A value starts at i; its depth is nesting+level+1.
		if i >= n || nesting+level >= maxDepth {
			return i, false
		}
		switch c := b[i]; c {
		case '"':
			if i, _, ok = scanString(b, i+1); !ok {
				return i, false
			}
		case '{', '[':
			if c == '{' {
				obj[level>>6] |= 1 << (level & 63)
			} else {
				obj[level>>6] &^= 1 << (level & 63)
			}
			level++
			i = skipWS(b, i+1)
			if i < n && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				i++
				level--
				break
			}
			if c == '{' {
				if i, ok = skipKey(b, i); !ok {
					return i, false
				}
			}
			continue
		case 't':
			if !hasLiteral(b, i, "true") {
				return i, false
			}
			i += 4
		case 'f':
			if !hasLiteral(b, i, "false") {
				return i, false
			}
			i += 5
		case 'n':
			if !hasLiteral(b, i, "null") {
				return i, false
			}
			i += 4
		default:
			if i, ok = skipNumber(b, i); !ok {
				return i, false
			}
		}

		// After a value: close containers until one continues with ','.
		for {
			if level == 0 {
				return i, true
			}
			i = skipWS(b, i)
			if i >= n {
				return i, false
			}
			l := level - 1
			isObj := obj[l>>6]&(1<<(l&63)) != 0
			c := b[i]
			if c == ',' {
				i = skipWS(b, i+1)
				if isObj {
					if i, ok = skipKey(b, i); !ok {
						return i, false
					}
				}
				break
			}
			if isObj && c == '}' || !isObj && c == ']' {
				i++
				level--
				continue
			}
			return i, false
		}
	}
}

// skipKey validates an object key and its colon at i, returning the index of the value.
func skipKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, _, ok := scanString(b, i+1)
	if !ok {
		return i, false
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipWS(b, i+1), true
}

// skipNumber validates a JSON number at i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (int, bool) {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < n && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
