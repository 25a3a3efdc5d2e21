package windows

import "github.com/cskpi/cskpi/event"

// conv is the state of one conversation (shop, buyer) that can still change a result.
// Conversations are kept for weeks (docs/SEMANTICS.md), so every field costs: what only a
// few of them need (recent replies) lives in a side map of the partition.
type conv struct {
	key         string // "<shop>/<buyer>", its field in Redis
	dirty, gone bool   // changed by the current batch; deleted since
	queued      bool   // touched since the last expiry (Partition.touched)
	open        bool
	// scene of the open episode: its first buyer message's (CONTRACT §2, Scene).
	scene event.Scene
	// last is the largest ts of the conversation's applied buyer and agent messages
	// (minInt64 before any). CONTRACT §1 orders a conversation's messages, so no later message
	// of it is earlier than last: state that only an earlier message could change may go.
	last  int64
	start int64   // first unanswered buyer message of the open episode
	msgs  []int64 // ts of the open episode's buyer messages
	// after marks the after-sale messages of msgs, bit i for msgs[i]; nil while none is,
	// which is most episodes (a pointer: 8 bytes in every conversation, not 24).
	after   *[]uint64
	cohorts []cohort
	served  []served
	// orders holds the order_created and order_paid events of the conversation's orders:
	// for cskpi_orders_created_paid_24h, where either may come first, by days, and the
	// payments for cohorts opened later.
	orders []orderEvent
	// lastAgent is the agent of the conversation's latest human reply (the last applied:
	// a conversation's messages are in order), for /api/v1/waiting.
	lastAgent string
}

type reply struct {
	agent string
	ts    int64
}

type cohort struct {
	date    int32
	t0      int64
	replied bool
	agent   string
	nPaid   int32 // applied order_paid with t0 <= ts <= t0+48h
	fen     int64 // their sum
}

// orderEvent is one applied order_created (paid false) or order_paid of an order. A
// payment restored from a conversation codec before 5 has no id: it still guides cohorts,
// and pairs with no order.
type orderEvent struct {
	id   string
	ts   int64
	fen  int64 // a payment's amount
	paid bool
}

// msgScene is the scene of the open episode's i-th buyer message.
func (c *conv) msgScene(i int) event.Scene {
	if w := i / 64; w < len(c.afterBits()) && c.afterBits()[w]&(1<<(i%64)) != 0 {
		return event.Aftersale
	}
	return event.Presale
}

// afterBits are the words of after (nil when none).
func (c *conv) afterBits() []uint64 {
	if c.after == nil {
		return nil
	}
	return *c.after
}

// addMsg appends a buyer message to the open episode.
func (c *conv) addMsg(ts int64, sc event.Scene) {
	i := len(c.msgs)
	c.msgs = append(c.msgs, ts)
	if sc == event.Aftersale {
		if c.after == nil {
			c.after = new([]uint64)
		}
		for len(*c.after) <= i/64 {
			*c.after = append(*c.after, 0)
		}
		(*c.after)[i/64] |= 1 << (i % 64)
	}
}

// closeMsgs forgets the open episode's messages.
func (c *conv) closeMsgs() { c.open, c.msgs, c.after, c.scene = false, nil, nil, event.Presale }

type served struct {
	agent string
	date  int32
	ts    int64 // the first reply, for expiry
}

func (c *conv) empty() bool {
	return !c.open && len(c.cohorts) == 0 && len(c.served) == 0 && len(c.orders) == 0
}

// conv gives the conversation of e, creating it, marked changed. Its key is built in a
// reused buffer: the lookup allocates nothing, only a new conversation's key does.
func (p *Partition) conv(e *event.Event) *conv {
	p.keyBuf = append(append(append(p.keyBuf[:0], e.Shop...), '/'), e.Buyer...)
	c := p.convs[string(p.keyBuf)]
	if c == nil {
		c = &conv{key: string(p.keyBuf), last: minInt64}
		p.convs[c.key] = c
	}
	p.markConv(c)
	return c
}

func (p *Partition) markConv(c *conv) {
	if !c.dirty {
		c.dirty = true
		p.dirtyC = append(p.dirtyC, c)
	}
	if !c.queued {
		c.queued = true
		p.touched = append(p.touched, c)
	}
}
