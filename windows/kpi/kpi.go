package kpi

import (
	"sort"
	"strconv"
	"strings"

	"github.com/cskpi/cskpi/event"
)

// Window names of CONTRACT §2.
const (
	W15m = "15m"
	W24h = "24h"
	W28d = "28d"
)

// Level says which labels a family carries.
type Level uint8

const (
	ShopWindow  Level = iota // shop, window
	ShopOnly                 // shop
	AgentWindow              // shop, agent, window
	AgentOnly                // shop, agent
)

// Unit is how a family's integer value is kept and exported.
type Unit uint8

const (
	Count  Unit = iota // a count, exported as it is
	Millis             // milliseconds, exported in seconds
	Fen                // fen, exported in yuan
)

// Export converts a kept integer value to its exported unit.
func (u Unit) Export(v int64) float64 {
	switch u {
	case Millis:
		return Seconds(v)
	case Fen:
		return Yuan(v)
	}
	return float64(v)
}

// Kind is how a family accumulates.
type Kind uint8

const (
	// Counter: one counter per shop or agent in every bucket, attributed to an item's
	// time and summed over the window's buckets.
	Counter Kind = iota
	// PerThreshold: a Counter per response threshold, exported with the le label.
	PerThreshold
	// Gauge: computed from the open state at the as-of time; no window.
	Gauge
	// PerWaitThreshold: a Gauge per waiting threshold, exported with the seconds label.
	PerWaitThreshold
	// Shortfall: a Counter kept as its shortfall from family Base (same level, windows and
	// unit) and exported as Base minus it: for the business-time sums, which equal the
	// calendar sums for a shop without business hours, so that nothing is added for it.
	Shortfall
)

// ID names a KPI family. Adding a KPI is one ID and its row in the table below, plus the
// rule that counts it (windows/rules.go, and the reference in windows/reference): the
// state layout, the snapshot and the exposition are derived from the table.
type ID uint8

// The families of CONTRACT §3, in the order of the table.
const (
	BuyerMessages ID = iota
	BuyerMessagesReplied
	HumanMessages
	AutoMessages
	Responses
	ResponseTimeSum
	ResponsesWithin
	Inquiries
	InquiriesReplied
	InquiriesGuided
	GuidedGMV
	OrdersCreated
	OrdersPaid
	PaidGMV
	RefundsDisputed
	RefundsCompleted
	RefundsByMerchant
	RefundDurationSum
	WaitingConversations
	WaitingOldest
	AgentResponses
	AgentResponseTimeSum
	AgentMessages
	AgentBuyersServed
	AgentInquiriesReplied
	AgentInquiriesGuided
	AgentGuidedGMV
	FirstResponses
	FirstResponseTimeSum
	ResponseBusinessTimeSum
	FirstResponseBusinessTimeSum
	WaitingOver
	AgentFirstResponses
	AgentFirstResponseTimeSum
	AgentResponseBusinessTimeSum
	AgentBuyerMessagesAnswered
	AgentBuyersActive
	BuyerMessagesReplied48h
	OrdersCreatedPaid24h
	NumIDs // the number of families
)

// Family is one exported metric family.
type Family struct {
	ID      ID
	Name    string
	Help    string
	Level   Level
	Windows []string
	Unit    Unit
	Kind    Kind
	Base    ID // of a Shortfall
	// Scene says the family carries the scene label (CONTRACT §3): one series per scene,
	// counted by the scene of the buyer message or of the episode it is about.
	Scene bool
}

// Le says the family carries the le label, one series per response threshold.
func (f Family) Le() bool { return f.Kind == PerThreshold }

// LabelNames are the family's labels, in exposition order.
func (f Family) LabelNames() []string {
	var out []string
	switch f.Level {
	case ShopWindow, ShopOnly:
		out = []string{"shop"}
	default:
		out = []string{"shop", "agent"}
	}
	if len(f.Windows) > 0 {
		out = append(out, "window")
	}
	if f.Scene {
		out = append(out, "scene")
	}
	switch f.Kind {
	case PerThreshold:
		out = append(out, "le")
	case PerWaitThreshold:
		out = append(out, "seconds")
	}
	return out
}

// LabelValues are s's values of the family's labels, in the order of LabelNames.
func (f Family) LabelValues(s Series) []string {
	names := f.LabelNames()
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = *s.Labels.at(n)
	}
	return out
}

// Name is the family's metric name.
func (id ID) Name() string { return id.Family().Name }

// String is the metric name, so that an ID reads as its name in a query or a message.
func (id ID) String() string { return id.Name() }

// Family is the family's row of the table.
func (id ID) Family() Family { return table()[id] }

// table is the one definition of every KPI family. (A function rather than a package
// variable, so that no caller can change it; callers that need many rows take them once.)
func table() [NumIDs]Family {
	all3, day28, d28 := []string{W15m, W24h, W28d}, []string{W24h, W28d}, []string{W28d}
	t := [NumIDs]Family{
		BuyerMessages:         {Name: "cskpi_buyer_messages", Help: "Buyer messages (咨询量), by ts.", Level: ShopWindow, Windows: all3, Scene: true},
		BuyerMessagesReplied:  {Name: "cskpi_buyer_messages_replied_24h", Help: "Buyer messages replied within 24 hours, by the message's ts.", Level: ShopWindow, Windows: day28, Scene: true},
		HumanMessages:         {Name: "cskpi_human_messages", Help: "Human (agent) replies, by ts.", Level: ShopWindow, Windows: day28},
		AutoMessages:          {Name: "cskpi_auto_messages", Help: "Auto messages, by ts.", Level: ShopWindow, Windows: day28},
		Responses:             {Name: "cskpi_responses", Help: "Response samples (closed waiting episodes), by reply ts.", Level: ShopWindow, Windows: all3, Scene: true},
		ResponseTimeSum:       {Name: "cskpi_response_time_seconds_sum", Help: "Sum of response samples in seconds (millisecond exact).", Level: ShopWindow, Windows: all3, Unit: Millis, Scene: true},
		ResponsesWithin:       {Name: "cskpi_responses_within", Help: "Response samples at most le seconds.", Level: ShopWindow, Windows: all3, Kind: PerThreshold, Scene: true},
		Inquiries:             {Name: "cskpi_inquiries", Help: "Inquiry cohorts (buyer-days, 接待人数), by t0.", Level: ShopWindow, Windows: day28},
		InquiriesReplied:      {Name: "cskpi_inquiries_replied", Help: "Inquiry cohorts replied within 48 hours of t0 (回复人数).", Level: ShopWindow, Windows: day28},
		InquiriesGuided:       {Name: "cskpi_inquiries_guided", Help: "Replied inquiry cohorts with a payment within 48 hours of t0 (询单成交人数).", Level: ShopWindow, Windows: day28},
		GuidedGMV:             {Name: "cskpi_guided_gmv_yuan", Help: "Paid amount of guided inquiry cohorts in yuan (引导下单GMV).", Level: ShopWindow, Windows: day28, Unit: Fen},
		OrdersCreated:         {Name: "cskpi_orders_created", Help: "Orders placed (拍下笔数), by ts.", Level: ShopWindow, Windows: day28},
		OrdersPaid:            {Name: "cskpi_orders_paid", Help: "Orders paid (成交笔数), by ts.", Level: ShopWindow, Windows: day28},
		PaidGMV:               {Name: "cskpi_paid_gmv_yuan", Help: "Amount paid in yuan, by ts.", Level: ShopWindow, Windows: day28, Unit: Fen},
		RefundsDisputed:       {Name: "cskpi_refunds_disputed", Help: "Refunds with platform intervention, by ts.", Level: ShopWindow, Windows: d28},
		RefundsCompleted:      {Name: "cskpi_refunds_completed", Help: "Refunds completed, by ts.", Level: ShopWindow, Windows: d28},
		RefundsByMerchant:     {Name: "cskpi_refunds_completed_by_merchant", Help: "Refunds completed by the merchant (自主完结), by ts.", Level: ShopWindow, Windows: d28},
		RefundDurationSum:     {Name: "cskpi_refund_duration_seconds_sum", Help: "Total duration of completed refunds in seconds.", Level: ShopWindow, Windows: d28, Unit: Millis},
		WaitingConversations:  {Name: "cskpi_waiting_conversations", Help: "Open waiting episodes that started within 48 hours of the as-of time.", Level: ShopOnly, Kind: Gauge, Scene: true},
		WaitingOldest:         {Name: "cskpi_waiting_oldest_seconds", Help: "Seconds since the start of the oldest open waiting episode; 0 when none.", Level: ShopOnly, Unit: Millis, Kind: Gauge, Scene: true},
		AgentResponses:        {Name: "cskpi_agent_responses", Help: "Response samples of this agent, by reply ts.", Level: AgentWindow, Windows: all3},
		AgentResponseTimeSum:  {Name: "cskpi_agent_response_time_seconds_sum", Help: "Sum of this agent's response samples in seconds.", Level: AgentWindow, Windows: all3, Unit: Millis},
		AgentMessages:         {Name: "cskpi_agent_messages", Help: "Human replies sent by this agent.", Level: AgentWindow, Windows: day28},
		AgentBuyersServed:     {Name: "cskpi_agent_buyers_served", Help: "Buyers served (日接待量): (agent, buyer, local date) at its first reply.", Level: AgentWindow, Windows: []string{W24h}},
		AgentInquiriesReplied: {Name: "cskpi_agent_inquiries_replied", Help: "Inquiry cohorts whose first qualifying reply is this agent's.", Level: AgentWindow, Windows: day28},
		AgentInquiriesGuided:  {Name: "cskpi_agent_inquiries_guided", Help: "Guided inquiry cohorts of this agent.", Level: AgentWindow, Windows: day28},
		AgentGuidedGMV:        {Name: "cskpi_agent_guided_gmv_yuan", Help: "Guided GMV of this agent's cohorts in yuan.", Level: AgentWindow, Windows: day28, Unit: Fen},

		FirstResponses:               {Name: "cskpi_first_responses", Help: "First-response samples (首次响应): the reply that marks an inquiry cohort replied, by reply ts.", Level: ShopWindow, Windows: all3},
		FirstResponseTimeSum:         {Name: "cskpi_first_response_time_seconds_sum", Help: "Sum of first-response samples (reply ts - t0) in seconds.", Level: ShopWindow, Windows: all3, Unit: Millis},
		ResponseBusinessTimeSum:      {Name: "cskpi_response_business_time_seconds_sum", Help: "Sum of response samples in seconds of the shop's business hours.", Level: ShopWindow, Windows: all3, Unit: Millis, Kind: Shortfall, Base: ResponseTimeSum, Scene: true},
		FirstResponseBusinessTimeSum: {Name: "cskpi_first_response_business_time_seconds_sum", Help: "Sum of first-response samples in seconds of the shop's business hours.", Level: ShopWindow, Windows: all3, Unit: Millis, Kind: Shortfall, Base: FirstResponseTimeSum},
		WaitingOver:                  {Name: "cskpi_waiting_conversations_over", Help: "Open waiting episodes (started within 48 hours) that have waited more than the seconds label.", Level: ShopOnly, Kind: PerWaitThreshold, Scene: true},
		AgentFirstResponses:          {Name: "cskpi_agent_first_responses", Help: "First-response samples of this agent, by reply ts.", Level: AgentWindow, Windows: all3},
		AgentFirstResponseTimeSum:    {Name: "cskpi_agent_first_response_time_seconds_sum", Help: "Sum of this agent's first-response samples in seconds.", Level: AgentWindow, Windows: all3, Unit: Millis},
		AgentResponseBusinessTimeSum: {Name: "cskpi_agent_response_business_time_seconds_sum", Help: "Sum of this agent's response samples in seconds of the shop's business hours.", Level: AgentWindow, Windows: all3, Unit: Millis, Kind: Shortfall, Base: AgentResponseTimeSum},
		AgentBuyerMessagesAnswered:   {Name: "cskpi_agent_buyer_messages_answered", Help: "Buyer messages of the episodes this agent's replies closed (问答比 denominator), by reply ts.", Level: AgentWindow, Windows: day28},
		AgentBuyersActive:            {Name: "cskpi_agent_buyers_active", Help: "Distinct buyers this agent sent a human reply to in the last 15 minutes (同时接待).", Level: AgentOnly, Kind: Gauge},
		BuyerMessagesReplied48h:      {Name: "cskpi_buyer_messages_replied_48h", Help: "Buyer messages replied within 48 hours (回复消息数), by the message's ts.", Level: ShopWindow, Windows: day28, Scene: true},
		OrdersCreatedPaid24h:         {Name: "cskpi_orders_created_paid_24h", Help: "Orders placed that were paid within 24 hours of their creation (催付), by the creation's ts.", Level: ShopWindow, Windows: day28},
	}
	for id := range t {
		t[id].ID = ID(id)
	}
	return t
}

// Families lists every KPI family of CONTRACT §3 in the order of the table.
func Families() []Family {
	t := table()
	return t[:]
}

// Labels of one series; empty fields are absent.
type Labels struct {
	Shop, Agent, Window, Le string
	Seconds                 string // the waiting threshold of cskpi_waiting_conversations_over
	Scene                   string // presale or aftersale, on the families with Family.Scene
}

// Set sets the label called name, as LabelNames spells it; false for a name no family has.
func (l *Labels) Set(name, value string) bool {
	p := l.at(name)
	if p == nil {
		return false
	}
	*p = value
	return true
}

// Get is the value of the label called name, as LabelNames spells it; "" for a name no
// family has.
func (l *Labels) Get(name string) string {
	if p := l.at(name); p != nil {
		return *p
	}
	return ""
}

// at is the field of the label called name; nil for a name no family has.
func (l *Labels) at(name string) *string {
	switch name {
	case "shop":
		return &l.Shop
	case "agent":
		return &l.Agent
	case "window":
		return &l.Window
	case "le":
		return &l.Le
	case "seconds":
		return &l.Seconds
	case "scene":
		return &l.Scene
	}
	return nil
}

// Series is one exported sample.
type Series struct {
	Name string
	Labels
	Value float64
}

// Key is a canonical identity of a series, for maps and comparisons.
func (s Series) Key() string {
	var b strings.Builder
	b.WriteString(s.Name)
	b.WriteByte('{')
	for _, kv := range [][2]string{{"agent", s.Agent}, {"le", s.Le}, {"scene", s.Scene}, {"seconds", s.Seconds}, {"shop", s.Shop}, {"window", s.Window}} {
		if kv[1] != "" {
			b.WriteString(kv[0] + "=\"" + kv[1] + "\",")
		}
	}
	b.WriteByte('}')
	return b.String()
}

// Sort orders series by key, for stable output.
func Sort(ss []Series) {
	sort.Slice(ss, func(i, j int) bool { return ss[i].Key() < ss[j].Key() })
}

// Scenes are the values of the scene label, in exposition order.
func Scenes() [event.NumScenes]string {
	var out [event.NumScenes]string
	for s := range event.NumScenes {
		out[s] = s.String()
	}
	return out
}

// Seconds converts whole milliseconds to exported seconds.
func Seconds(ms int64) float64 { return float64(ms) / 1000 }

// Yuan converts fen to exported yuan.
func Yuan(fen int64) float64 { return float64(fen) / 100 }

// LeLabel renders a threshold (milliseconds) as the le label: whole seconds.
func LeLabel(ms int64) string { return strconv.FormatInt(ms/1000, 10) }
