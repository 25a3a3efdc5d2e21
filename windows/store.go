package windows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

// partKey is the prefix of partition part's keys: one hash tag, one Redis Cluster slot.
func (s *Store) partKey(part int) string { return fmt.Sprintf("%s:{p%d}:", s.prefix, part) }

func (s *Store) keys(part int) []string {
	base := s.partKey(part)
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

// Claim marks the partition numbers mine as held by member for ttl, and reports which of
// the partition numbers 0..all-1 some live instance holds, in one round trip. A claim is
// liveness, not ownership: Kafka's group decides who consumes a partition and Redis
// fences a stale writer (Commit); claims only let an instance see a partition number that
// no live member holds (pipeline's rejoin watchdog, docs/RELIABILITY.md).
func (s *Store) Claim(ctx context.Context, member string, mine []int, all int, ttl time.Duration) ([]bool, error) {
	pipe := s.rdb.Pipeline()
	for _, p := range mine {
		pipe.Set(ctx, s.claimKey(p), member, ttl)
	}
	gets := make([]*redis.IntCmd, all)
	for p := range all {
		gets[p] = pipe.Exists(ctx, s.claimKey(p))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]bool, all)
	for p, c := range gets {
		out[p] = c.Val() > 0
	}
	return out, nil
}

func (s *Store) claimKey(part int) string { return s.partKey(part) + "claim" }

// Load replaces p's mirror with what Redis holds for its partition.
func (s *Store) Load(ctx context.Context, p *Partition) error {
	st, err := s.Read(ctx, p.ID)
	if err != nil {
		return err
	}
	return p.Restore(st)
}

// Read fetches what Redis holds for partition part.
func (s *Store) Read(ctx context.Context, part int) (*Stored, error) {
	// The hashes are scanned, not read in one call (a partition holds 28 days), so another
	// writer (a zombie, the previous owner's last batch) may commit between the reads: the
	// read is taken as a whole only when the sequence number did not move meanwhile. A mixed
	// read would otherwise look damaged (buckets without meta) or load two batches at once.
	k := s.keys(part)
	for attempt := 1; ; attempt++ {
		meta, err := s.rdb.HGetAll(ctx, k[0]).Result()
		if err != nil {
			return nil, err
		}
		st := &Stored{Meta: meta}
		for i, dst := range []*[]Field{&st.Buckets, &st.Convs, &st.IDs} {
			if err := s.scan(ctx, k[i+1], func(f, v string) { *dst = append(*dst, Field{f, []byte(v)}) }); err != nil {
				return nil, fmt.Errorf("partition %d: %w", part, err)
			}
		}
		seq, err := s.rdb.HGet(ctx, k[0], "seq").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		if seq == meta["seq"] {
			return st, nil
		}
		if attempt == readAttempts {
			return nil, fmt.Errorf("partition %d: stored state changed while it was read (%d times): another instance is still writing it", part, attempt)
		}
	}
}

// readAttempts bounds how often Read starts again because another writer committed
// meanwhile; the caller retries later, as after any load failure.
const readAttempts = 5

func (s *Store) scan(ctx context.Context, key string, fn func(f, v string)) error {
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, key, cursor, "*", 4096).Result()
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(kv); i += 2 {
			fn(kv[i], kv[i+1])
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Commit writes cs in one script, if and only if Redis still holds the sequence number cs
// was built on. On success the caller tells the mirror (Partition.Committed); on ErrFenced
// (or any error) the mirror no longer matches Redis and must be reloaded.
func (s *Store) Commit(ctx context.Context, cs *ChangeSet) error {
	n := 8 + 2*(len(cs.Buckets)+len(cs.Convs)+len(cs.IDs)+len(cs.Meta)) +
		len(cs.DeletedBuckets) + len(cs.DeletedConvs) + len(cs.DeletedIDs)
	args := make([]any, 0, n)
	// One sequence number fences the whole partition, whichever topics a batch touched.
	args = append(args, seqString(cs.Seq))
	set := func(fs []Field) {
		args = append(args, len(fs))
		for _, f := range fs {
			args = append(args, f.Name, f.Value)
		}
	}
	del := func(names []string) {
		args = append(args, len(names))
		for _, f := range names {
			args = append(args, f)
		}
	}
	set(cs.Buckets)
	del(cs.DeletedBuckets)
	set(cs.Convs)
	del(cs.DeletedConvs)
	set(cs.IDs)
	del(cs.DeletedIDs)
	set(cs.Meta)

	var applyCmd *redis.Cmd
	_, _ = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		applyCmd = s.apply.EvalSha(ctx, pipe, s.keys(cs.Partition), args...)
		if cs.StreamTime != 0 {
			// Best effort: a lost raise is repaired by the next batch, and the partition's
			// own watermarks, written atomically above, are the durable record.
			s.max.EvalSha(ctx, pipe, []string{s.streamKey()}, strconv.FormatInt(cs.StreamTime, 10))
		}
		return nil
	})
	err := applyCmd.Err()
	if isNoScript(err) {
		// Redis restarted or was flushed since the scripts were loaded.
		if err = s.LoadScripts(ctx); err == nil {
			return s.Commit(ctx, cs)
		}
	}
	if err != nil {
		if strings.Contains(err.Error(), "CSKPI_FENCED") {
			return fmt.Errorf("%w: partition %d: %v", ErrFenced, cs.Partition, err)
		}
		return err
	}
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
