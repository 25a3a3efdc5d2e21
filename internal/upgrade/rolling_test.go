package upgrade_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/cskpi/cskpi/internal/difftest"
	"github.com/cskpi/cskpi/internal/testenv"
)

// The rolling update's log and pace: about 6 000 records published in chunks over ~20 s,
// so that every step of the update lands while records arrive.
const (
	rollingSeed    = 1919
	rollingRecords = 6000
	rollingChunk   = 60
	rollingEvery   = 200 * time.Millisecond
	rollingGroup   = "rolling"
	// storedLayoutPre is the meta "v" the pre-issue build writes; anything else a partition
	// holds was written by today's build.
	storedLayoutPre = "5"
	// groupTimeout bounds each wait for the group to settle after a member joins or leaves.
	groupTimeout = 30 * time.Second
)

// TestRollingUpdate: a Deployment's RollingUpdate from the pre-issue build (layout 5) to
// today's, in one consumer group over one Redis, while the log arrives: two old instances;
// a new one joins (partitions move old -> new); an old one stops, chosen so that one of
// the new instance's partitions moves to the remaining old one (new -> old: the old build
// cannot read the new layout and must hold that partition without writing to it); a second
// new one joins; the last old one stops. Only new instances are left; once every offset is
// at the end of the log, the sum of their series is exactly recompute's: nothing lost,
// nothing counted twice. Where each partition went is read from the group coordinator
// (DescribeGroups; the instances run under names of their own, which become their Kafka
// client ids), and every partition's stored layout is watched: once today's build wrote it,
// the old build must never write it again.
func TestRollingUpdate(t *testing.T) {
	began := time.Now()
	requireCommit(t, preIssueCommit)
	oldBin, took := buildCommit(t, preIssueCommit)
	newBin := todayBin(t)
	// One name per instance: each becomes the process name and so the Kafka client id.
	dir := t.TempDir()
	bins := map[string]string{}
	for _, n := range []string{"kpiold1", "kpiold2"} {
		bins[n] = filepath.Join(dir, n)
		if err := os.Symlink(oldBin, bins[n]); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"kpinew1", "kpinew2"} {
		bins[n] = filepath.Join(dir, n)
		if err := os.Symlink(newBin, bins[n]); err != nil {
			t.Fatal(err)
		}
	}

	// The old build does not read scene: what it applies of a log with scenes it counts as
	// pre-sale (docs/UPGRADING.md), so that only a log without scenes has one right answer
	// whichever build applies a record.
	lines := difftest.TestLog(rollingSeed, rollingRecords)
	for i, l := range lines {
		lines[i] = stripScene(l)
	}
	_, ends := placeLog(t, lines)
	_, want := difftest.Reference(t, lines)
	// A family the old build does not have counts on each partition from when a new
	// instance first loaded it: exact comparison only for the families the old build has;
	// the others are checked against the whole log as an upper bound, and dated.
	partial := stampedSince(familiesOf(t, preIssueCommit))
	k := testenv.StartKafka(t, partitions, topicM, topicO, topicDL)
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	rdb := r.Client(t)
	published := func() float64 {
		return float64(brokerEnds(t, k.Brokers).total()) / float64(ends.total())
	}

	watch := startWatch(t, k.Brokers, rdb)
	started := map[string]*difftest.Proc{} // every instance, for its log
	start := func(name string) *difftest.Proc {
		p := difftest.StartServe(t, bins[name], difftest.ServeOptions{Name: name,
			Args: serveArgs(k.Brokers, r.Addr, rollingGroup)})
		started[name] = p
		return p
	}
	procs := map[string]*difftest.Proc{} // running
	awaitGroup := func(step string, members ...string) map[string][]int {
		t.Helper()
		var owners map[string][]int
		testenv.WaitFor(t, groupTimeout, step+": the group to be "+strings.Join(members, ", "), func() bool {
			owners = watch.assignment()
			if len(owners) != len(members) {
				return false
			}
			n := 0
			for _, m := range members {
				ps, ok := owners[m]
				if !ok {
					return false
				}
				n += len(ps)
			}
			return n == partitions
		})
		t.Logf("%s: %v (%.0f%% of the log published)", step, owners, 100*published())
		return owners
	}

	// Two old instances while the log starts to arrive.
	procs["kpiold1"] = start("kpiold1")
	procs["kpiold2"] = start("kpiold2")
	awaitGroup("two old instances", "kpiold1", "kpiold2")
	waitTrickle := difftest.Trickle(t, k.Brokers, lines, rollingChunk, rollingEvery)
	testenv.WaitFor(t, 30*time.Second, "a fifth of the log applied by the old instances", func() bool {
		return difftest.ProgressOf(rdb, partitions) >= rollingRecords/5
	})

	// A new instance joins: old -> new.
	procs["kpinew1"] = start("kpinew1")
	owners := awaitGroup("new-1 joined", "kpiold1", "kpiold2", "kpinew1")
	// It commits in its partitions before anything moves again.
	mark := difftest.ProgressOf(rdb, partitions)
	testenv.WaitFor(t, 30*time.Second, "new-1 to apply records", func() bool {
		return difftest.ProgressOf(rdb, partitions) >= mark+rollingRecords/10
	})

	// An old instance stops, the one whose leaving moves a partition of new-1 to the other
	// old instance under the balancer (partition numbers dealt round-robin over the sorted
	// member ids); if neither does, the first.
	stop, keep := "kpiold1", "kpiold2"
	ids := watch.memberIDs()
	if movesNewToOld(ids, owners, "kpiold2", "kpiold1") {
		stop, keep = "kpiold2", "kpiold1"
	}
	procs[stop].Stop()
	delete(procs, stop)
	awaitGroup(stop+" stopped", keep, "kpinew1")
	testenv.WaitFor(t, 60*time.Second, "three fifths of the log published", func() bool { return published() >= 0.6 })

	// A second new instance joins; then the last old one stops.
	procs["kpinew2"] = start("kpinew2")
	awaitGroup("new-2 joined", keep, "kpinew1", "kpinew2")
	testenv.WaitFor(t, 60*time.Second, "four fifths of the log published", func() bool { return published() >= 0.8 })
	procs[keep].Stop()
	delete(procs, keep)
	awaitGroup(keep+" stopped", "kpinew1", "kpinew2")

	// Only new instances: everything applied, exactly once.
	trickled := waitTrickle()
	awaitOffsets(t, rdb, ends, 60*time.Second, "the new instances")
	news := []*difftest.Proc{procs["kpinew1"], procs["kpinew2"]}
	difftest.AwaitSumMatch(t, news, want, partial, 30*time.Second)
	watch.stop()

	moves, violations, newLayout := watch.report()
	if len(violations) > 0 {
		t.Errorf("the old build wrote to partitions today's build had stored in its layout:\n%s", strings.Join(violations, "\n"))
	}
	var oldToNew, newToOld int
	for _, m := range moves {
		switch {
		case isOld(m.from) && !isOld(m.to):
			oldToNew++
		case !isOld(m.from) && isOld(m.to):
			newToOld++
		}
	}
	if oldToNew == 0 || newToOld == 0 {
		t.Errorf("partitions moved old -> new %d times and new -> old %d times: the update did not move them both ways", oldToNew, newToOld)
	}
	if len(newLayout) < partitions {
		t.Errorf("today's build stored its layout in partitions %v only, want all %d (meta v other than %s)", newLayout, partitions, storedLayoutPre)
	}
	var refusedLoads []string
	for _, n := range []string{"kpiold1", "kpiold2"} {
		for p := range partitions {
			if c := difftest.CountLines(started[n].Log(), "partition="+fmt.Sprint(p), "this build reads "+storedLayoutPre); c > 0 {
				refusedLoads = append(refusedLoads, fmt.Sprintf("%s p%d: %d", n, p, c))
			}
		}
	}
	for _, p := range news {
		p.Stop()
	}
	var ms []string
	for _, m := range moves {
		ms = append(ms, m.String())
	}
	t.Logf("%d records published in %v; moves: %s; old -> new %d, new -> old %d; the old build's failed loads of today's layout: %v; the sum over the new instances equals all %d series of recompute; old build %v (0: cached); %v in all",
		len(lines), trickled.Round(time.Millisecond), strings.Join(ms, ", "), oldToNew, newToOld, refusedLoads, len(want),
		took.Round(time.Second), time.Since(began).Round(time.Millisecond))
}

func isOld(name string) bool { return strings.HasPrefix(name, "kpiold") }

// movesNewToOld says whether, with stop leaving, a partition kpinew1 holds goes to keep,
// when partition numbers are dealt round-robin over the sorted member ids (the co-partition
// balancer of the pre-issue build).
func movesNewToOld(ids map[string]string, owners map[string][]int, stop, keep string) bool {
	if ids[keep] == "" || ids["kpinew1"] == "" {
		return false
	}
	rest := []string{ids[keep], ids["kpinew1"]}
	sort.Strings(rest)
	for p := range partitions {
		if rest[p%len(rest)] == ids[keep] && slices.Contains(owners["kpinew1"], p) {
			return true
		}
	}
	return false
}

// move is a partition number changing hands between instances of the group.
type move struct {
	part     int
	from, to string
	at       time.Duration
}

func (m move) String() string {
	return fmt.Sprintf("p%d %s->%s @%v", m.part, m.from, m.to, m.at.Round(100*time.Millisecond))
}

// watch follows the group's assignment (DescribeGroups) and every partition's stored layout
// (meta v) in the background.
type watch struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}
	began  time.Time

	mu         sync.Mutex
	owners     map[string][]int  // instance name -> partitions, the latest stable assignment
	ids        map[string]string // instance name -> member id
	last       map[int]string    // partition -> instance
	moves      []move
	newSeen    map[int]bool // partitions seen in today's layout
	violations []string
}

func startWatch(t *testing.T, brokers []string, rdb *redis.Client) *watch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{t: t, cancel: cancel, done: make(chan struct{}), began: time.Now(),
		owners: map[string][]int{}, ids: map[string]string{}, last: map[int]string{}, newSeen: map[int]bool{}}
	t.Cleanup(w.stop)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 2 * time.Second}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond) // sampling interval of the watch
		defer tick.Stop()
		for {
			w.pollGroup(ctx, client)
			w.pollLayouts(ctx, rdb)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *watch) stop() {
	w.cancel()
	<-w.done
}

// instanceOf names the instance of a member by its client id (the process name).
func instanceOf(clientID string) string {
	for _, n := range []string{"kpiold1", "kpiold2", "kpinew1", "kpinew2"} {
		if strings.HasPrefix(clientID, n+"@") || strings.Contains(clientID, n) {
			return n
		}
	}
	return "new:" + clientID // today's build may set a client id of its own
}

func (w *watch) pollGroup(ctx context.Context, c *kafka.Client) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{rollingGroup}})
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].GroupState != "Stable" {
		return
	}
	owners, ids := map[string][]int{}, map[string]string{}
	for _, m := range resp.Groups[0].Members {
		name := instanceOf(m.ClientID)
		ids[name] = m.MemberID
		seen := map[int]bool{}
		for _, tp := range m.MemberAssignments.Topics {
			for _, p := range tp.Partitions {
				seen[p] = true
			}
		}
		owners[name] = []int{}
		for p := range seen {
			owners[name] = append(owners[name], p)
		}
		sort.Ints(owners[name])
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.owners, w.ids = owners, ids
	for name, ps := range owners {
		for _, p := range ps {
			if prev, ok := w.last[p]; ok && prev != name {
				w.moves = append(w.moves, move{p, prev, name, time.Since(w.began)})
			}
			w.last[p] = name
		}
	}
}

func (w *watch) pollLayouts(ctx context.Context, rdb *redis.Client) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for p := range partitions {
		v, err := rdb.HGet(ctx, fmt.Sprintf("%s:{p%d}:meta", keyPrefix, p), "v").Result()
		if err != nil {
			continue
		}
		w.mu.Lock()
		switch {
		case v != storedLayoutPre:
			w.newSeen[p] = true
		case w.newSeen[p]:
			w.violations = append(w.violations, fmt.Sprintf("partition %d: meta v back to %s at %v, after today's build had stored its layout",
				p, v, time.Since(w.began).Round(time.Millisecond)))
			w.newSeen[p] = false // report each return once
		}
		w.mu.Unlock()
	}
}

func (w *watch) assignment() map[string][]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]int{}
	for k, v := range w.owners {
		out[k] = slices.Clone(v)
	}
	return out
}

func (w *watch) memberIDs() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for k, v := range w.ids {
		out[k] = v
	}
	return out
}

func (w *watch) report() (moves []move, violations []string, newLayout []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range partitions {
		if w.newSeen[p] {
			newLayout = append(newLayout, p)
		}
	}
	return slices.Clone(w.moves), slices.Clone(w.violations), newLayout
}
