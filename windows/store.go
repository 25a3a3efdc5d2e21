package windows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cskpi/cskpi/event"
)

// applyScript writes one batch of one partition. It first compares the stored batch
// sequence number with the one the batch was built on and refuses the batch when they
// differ: that refusal is the fence against redelivery and zombies. Only then does it write
// state, and the offsets last, so a batch is either wholly in or not at all.
//
// KEYS: meta, buckets, conversations, ids — one hash tag, one slot.
// ARGV: expected seq, then per section a count and its items: buckets set (field, value)*,
// buckets del field*, conversations set, conversations del, ids set, ids del, meta set.
const applyScript = `
local a = ARGV
local stored = redis.call('HGET', KEYS[1], 'seq') or ''
if stored ~= a[1] then
  return redis.error_reply('CSKPI_FENCED seq stored=' .. stored .. ' expected=' .. a[1])
end
local i = 2
local function section(cmd, key, width)
  local cnt = tonumber(a[i]); i = i + 1
  local s = 1
  while s <= cnt do
    local e = math.min(cnt, s + 511)
    local args, n = {}, 0
    for k = s, e do
      for w = 0, width - 1 do n = n + 1; args[n] = a[i + w] end
      i = i + width
    end
    redis.call(cmd, key, unpack(args, 1, n))
    s = e + 1
  end
end
section('HSET', KEYS[2], 2)
section('HDEL', KEYS[2], 1)
section('HSET', KEYS[3], 2)
section('HDEL', KEYS[3], 1)
section('HSET', KEYS[4], 2)
section('HDEL', KEYS[4], 1)
section('HSET', KEYS[1], 2)
return 'OK'
`

// maxScript raises a decimal integer key to ARGV[1] if that is larger. Lua numbers are
// doubles, so nanosecond values are compared as strings.
const maxScript = `
local cur = redis.call('GET', KEYS[1])
local v = ARGV[1]
local function less(x, y)
  local nx, ny = string.sub(x, 1, 1) == '-', string.sub(y, 1, 1) == '-'
  if nx ~= ny then return nx end
  if nx then return less(string.sub(y, 2), string.sub(x, 2)) end
  if #x ~= #y then return #x < #y end
  return x < y
end
if not cur or less(cur, v) then redis.call('SET', KEYS[1], v) return 1 end
return 0
`

// ErrFenced means the stored offsets were not the ones a batch was built on: another
// instance (or an earlier life of this one) moved the partition on. Reload and go on.
var ErrFenced = errors.New("windows: partition state moved on (fenced)")

const schemaVersion = "2"

// Store keeps partitions in Redis.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	apply  *redis.Script
	max    *redis.Script
}

// NewStore uses keys under prefix (e.g. "cskpi").
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix, apply: redis.NewScript(applyScript), max: redis.NewScript(maxScript)}
}

func (s *Store) keys(part int) []string {
	base := fmt.Sprintf("%s:{p%d}:", s.prefix, part)
	return []string{base + "meta", base + "b", base + "c", base + "i"}
}

func (s *Store) streamKey() string { return s.prefix + ":streamtime" }

// StreamTime reads the shared stream time (0, false when nothing was applied yet).
func (s *Store) StreamTime(ctx context.Context) (int64, bool, error) {
	v, err := s.rdb.Get(ctx, s.streamKey()).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil, err
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Load replaces p's mirror with what Redis holds.
func (s *Store) Load(ctx context.Context, p *Partition) error {
	p.reset()
	k := s.keys(p.ID)
	meta, err := s.rdb.HGetAll(ctx, k[0]).Result()
	if err != nil {
		return err
	}
	var storedThr []int64
	for f, v := range meta {
		switch {
		case strings.HasPrefix(f, "off:"):
			o, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("partition %d: %s: %w", p.ID, f, errCorrupt)
			}
			p.Offsets[f[4:]] = o
		case f == "wm:m" || f == "wm:o":
			t := event.Messages
			if f == "wm:o" {
				t = event.Orders
			}
			p.wm[t], _ = strconv.ParseInt(v, 10, 64)
		case f == "seq":
			p.Seq, _ = strconv.ParseInt(v, 10, 64)
		case f == "st":
			p.st, _ = strconv.ParseInt(v, 10, 64)
		case f == "hm":
			p.minMinute, _ = strconv.ParseInt(v, 10, 64)
		case f == "hh":
			p.minHour, _ = strconv.ParseInt(v, 10, 64)
		case f == "thr":
			storedThr = parseInts(v)
		case f == "v" && v != schemaVersion:
			return fmt.Errorf("partition %d: state schema version %s, this build reads %s: %w", p.ID, v, schemaVersion, errCorrupt)
		}
	}
	remap := thresholdMap(storedThr, p.cfg.Thresholds)
	keepAsIs := identity(remap, storedThr)
	var rewrite []blockKey

	if err := s.scan(ctx, k[1], func(f, v string) error {
		key, err := parseBlockField(f)
		if err != nil {
			return err
		}
		enc := []byte(v)
		var walkErr error
		b := &bucket{enc: enc}
		if !keepAsIs {
			b = &bucket{dec: vecs{}}
		}
		p.scratch, walkErr = walkBlock(enc, p.scratch, func(shop, agent []byte, v []int64) {
			if keepAsIs {
				return // checked only; decoded when a batch or a window needs it
			}
			// The thresholds changed: every bucket is rewritten in the new layout by the
			// next commit, which also stores the new thresholds.
			if len(agent) == 0 {
				v = remapVector(v, remap, p.cfg.shopLen())
			}
			b.dec[p.owners.idBytes(shop, agent)] = slices.Clone(v)
		})
		if walkErr != nil {
			return walkErr
		}
		p.blocks[key] = b
		if !keepAsIs {
			p.decoded[key] = struct{}{}
			rewrite = append(rewrite, key)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("partition %d buckets: %w", p.ID, err)
	}
	if err := s.scan(ctx, k[2], func(f, v string) error {
		c, err := decodeConv([]byte(v))
		if err != nil {
			return err
		}
		c.key = f
		p.convs[f] = c
		return nil
	}); err != nil {
		return fmt.Errorf("partition %d conversations: %w", p.ID, err)
	}
	if err := s.scan(ctx, k[3], func(f, v string) error {
		t, minute, err := parseIDField(f)
		if err != nil {
			return err
		}
		im := p.idMinutes[t][minute]
		if im == nil {
			im = &idMinute{}
			p.idMinutes[t][minute] = im
		}
		im.fields = append(im.fields, f)
		return forEachID([]byte(v), func(id string, anchor int64) {
			k := p.idKey(id)
			im.keys = append(im.keys, k)
			if old, ok := p.ids[t][k]; !ok || anchor > old {
				p.ids[t][k] = anchor
			}
		})
	}); err != nil {
		return fmt.Errorf("partition %d ids: %w", p.ID, err)
	}
	p.clearDirty()
	for _, k := range rewrite {
		p.dirtyB[k] = struct{}{}
	}
	return nil
}

// identity reports whether remap keeps a shop vector as it is stored.
func identity(remap []int, stored []int64) bool {
	if len(remap) != len(stored) {
		return false
	}
	for i, j := range remap {
		if j != i {
			return false
		}
	}
	return true
}

func (s *Store) scan(ctx context.Context, key string, fn func(f, v string) error) error {
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, key, cursor, "*", 4096).Result()
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if err := fn(kv[i], kv[i+1]); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Commit writes what the batch changed together with the partition's next offsets, if and
// only if Redis still holds the batch sequence number p was built on. On ErrFenced (or any
// error) p no longer matches Redis and must be reloaded.
func (s *Store) Commit(ctx context.Context, p *Partition, next map[string]int64) error {
	n := 10 + 2*(len(p.dirtyB)+len(p.dirtyC)+len(p.dirtyI[0])+len(p.dirtyI[1])) + len(p.deletedB) + len(p.deletedC)
	args := make([]any, 0, n)
	// One sequence number fences the whole partition, whichever topics a batch touched.
	args = append(args, seqString(p.Seq))
	args = append(args, len(p.dirtyB))
	for k := range p.dirtyB {
		args = append(args, blockField(k), p.seal(k))
	}
	args = append(args, len(p.deletedB))
	for _, k := range p.deletedB {
		args = append(args, blockField(k))
	}
	changed := 0
	for _, c := range p.dirtyC {
		if !c.gone {
			changed++
		}
	}
	args = append(args, changed)
	for _, c := range p.dirtyC {
		if !c.gone {
			args = append(args, c.key, encodeConv(c))
		}
	}
	args = append(args, len(p.deletedC))
	for _, key := range p.deletedC {
		args = append(args, key)
	}
	args = append(args, len(p.dirtyI[0])+len(p.dirtyI[1]))
	for t := range 2 {
		for m := range p.dirtyI[t] {
			args = append(args, idBatchField(t, m, p.Seq+1), p.idMinutes[t][m].fresh)
		}
	}
	args = append(args, len(p.deletedI))
	for _, f := range p.deletedI {
		args = append(args, f)
	}
	meta := []any{"v", schemaVersion, "thr", joinInts(p.cfg.Thresholds),
		"wm:m", p.wm[event.Messages], "wm:o", p.wm[event.Orders]}
	if p.minMinute > minInt64 {
		meta = append(meta, "hm", p.minMinute, "hh", p.minHour)
	}
	if p.st != minInt64 {
		meta = append(meta, "st", p.st)
	}
	for t, o := range next {
		meta = append(meta, "off:"+t, o)
	}
	meta = append(meta, "seq", p.Seq+1)
	args = append(args, len(meta)/2)
	args = append(args, meta...)

	maxWM := max(p.wm[0], p.wm[1])
	var applyCmd *redis.Cmd
	_, _ = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		applyCmd = s.apply.EvalSha(ctx, pipe, s.keys(p.ID), args...)
		if maxWM != 0 {
			// Best effort: a lost raise is repaired by the next batch, and the partition's
			// own watermark, written atomically above, is the durable record.
			s.max.EvalSha(ctx, pipe, []string{s.streamKey()}, strconv.FormatInt(maxWM, 10))
		}
		return nil
	})
	err := applyCmd.Err()
	if isNoScript(err) {
		// Redis restarted or was flushed since the scripts were loaded.
		if err = s.LoadScripts(ctx); err == nil {
			return s.Commit(ctx, p, next)
		}
	}
	if err != nil {
		if strings.Contains(err.Error(), "CSKPI_FENCED") {
			return fmt.Errorf("%w: partition %d: %v", ErrFenced, p.ID, err)
		}
		return err
	}
	for t, o := range next {
		p.Offsets[t] = o
	}
	p.Seq++
	p.committed()
	return nil
}

// LoadScripts loads the Lua scripts, so that batches can use EVALSHA.
func (s *Store) LoadScripts(ctx context.Context) error {
	if err := s.apply.Load(ctx, s.rdb).Err(); err != nil {
		return err
	}
	return s.max.Load(ctx, s.rdb).Err()
}

func seqString(seq int64) string {
	if seq == 0 {
		return ""
	}
	return strconv.FormatInt(seq, 10)
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) []int64 {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if x, err := strconv.ParseInt(f, 10, 64); err == nil {
			out = append(out, x)
		}
	}
	return out
}

// thresholdMap maps each configured threshold to its slot in stored vectors (-1: new), so a
// change of --response.thresholds keeps the thresholds both configurations share.
func thresholdMap(stored, now []int64) []int {
	m := make([]int, len(now))
	for i, t := range now {
		m[i] = -1
		for j, s := range stored {
			if s == t {
				m[i] = j
			}
		}
	}
	return m
}

// remapVector moves a stored shop vector to the configured thresholds' layout.
func remapVector(v []int64, remap []int, n int) []int64 {
	out := make([]int64, n)
	copy(out, v[:min(len(v), nShopFixed)])
	for i, j := range remap {
		if j >= 0 && nShopFixed+j < len(v) {
			out[nShopFixed+i] = v[nShopFixed+j]
		}
	}
	return out
}
