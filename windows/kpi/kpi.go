package kpi

import (
	"sort"
	"strconv"
	"strings"
)

// Window names of SPEC §2.
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
)

// Family is one exported metric family.
type Family struct {
	Name    string
	Help    string
	Level   Level
	Windows []string
	Le      bool // carries the le label, one series per response threshold
}

// Metric family names.
const (
	BuyerMessages         = "cskpi_buyer_messages"
	BuyerMessagesReplied  = "cskpi_buyer_messages_replied_24h"
	HumanMessages         = "cskpi_human_messages"
	AutoMessages          = "cskpi_auto_messages"
	Responses             = "cskpi_responses"
	ResponseTimeSum       = "cskpi_response_time_seconds_sum"
	ResponsesWithin       = "cskpi_responses_within"
	Inquiries             = "cskpi_inquiries"
	InquiriesReplied      = "cskpi_inquiries_replied"
	InquiriesGuided       = "cskpi_inquiries_guided"
	GuidedGMV             = "cskpi_guided_gmv_yuan"
	OrdersCreated         = "cskpi_orders_created"
	OrdersPaid            = "cskpi_orders_paid"
	PaidGMV               = "cskpi_paid_gmv_yuan"
	RefundsDisputed       = "cskpi_refunds_disputed"
	RefundsCompleted      = "cskpi_refunds_completed"
	RefundsByMerchant     = "cskpi_refunds_completed_by_merchant"
	RefundDurationSum     = "cskpi_refund_duration_seconds_sum"
	WaitingConversations  = "cskpi_waiting_conversations"
	WaitingOldest         = "cskpi_waiting_oldest_seconds"
	AgentResponses        = "cskpi_agent_responses"
	AgentResponseTimeSum  = "cskpi_agent_response_time_seconds_sum"
	AgentMessages         = "cskpi_agent_messages"
	AgentBuyersServed     = "cskpi_agent_buyers_served"
	AgentInquiriesReplied = "cskpi_agent_inquiries_replied"
	AgentInquiriesGuided  = "cskpi_agent_inquiries_guided"
	AgentGuidedGMV        = "cskpi_agent_guided_gmv_yuan"
)

var (
	all3  = []string{W15m, W24h, W28d}
	day28 = []string{W24h, W28d}
)

// Families lists every KPI family of SPEC §3 in a stable order.
func Families() []Family {
	return []Family{
		{BuyerMessages, "Buyer messages (咨询量), by ts.", ShopWindow, all3, false},
		{BuyerMessagesReplied, "Buyer messages replied within 24 hours, by the message's ts.", ShopWindow, day28, false},
		{HumanMessages, "Human (agent) replies, by ts.", ShopWindow, day28, false},
		{AutoMessages, "Auto messages, by ts.", ShopWindow, day28, false},
		{Responses, "Response samples (closed waiting episodes), by reply ts.", ShopWindow, all3, false},
		{ResponseTimeSum, "Sum of response samples in seconds (millisecond exact).", ShopWindow, all3, false},
		{ResponsesWithin, "Response samples at most le seconds.", ShopWindow, all3, true},
		{Inquiries, "Inquiry cohorts (buyer-days, 接待人数), by t0.", ShopWindow, day28, false},
		{InquiriesReplied, "Inquiry cohorts replied within 48 hours of t0 (回复人数).", ShopWindow, day28, false},
		{InquiriesGuided, "Replied inquiry cohorts with a payment within 48 hours of t0 (询单成交人数).", ShopWindow, day28, false},
		{GuidedGMV, "Paid amount of guided inquiry cohorts in yuan (引导下单GMV).", ShopWindow, day28, false},
		{OrdersCreated, "Orders placed (拍下笔数), by ts.", ShopWindow, day28, false},
		{OrdersPaid, "Orders paid (成交笔数), by ts.", ShopWindow, day28, false},
		{PaidGMV, "Amount paid in yuan, by ts.", ShopWindow, day28, false},
		{RefundsDisputed, "Refunds with platform intervention, by ts.", ShopWindow, []string{W28d}, false},
		{RefundsCompleted, "Refunds completed, by ts.", ShopWindow, []string{W28d}, false},
		{RefundsByMerchant, "Refunds completed by the merchant (自主完结), by ts.", ShopWindow, []string{W28d}, false},
		{RefundDurationSum, "Total duration of completed refunds in seconds.", ShopWindow, []string{W28d}, false},
		{WaitingConversations, "Open waiting episodes that started within 48 hours of the as-of time.", ShopOnly, nil, false},
		{WaitingOldest, "Seconds since the start of the oldest open waiting episode; 0 when none.", ShopOnly, nil, false},
		{AgentResponses, "Response samples of this agent, by reply ts.", AgentWindow, all3, false},
		{AgentResponseTimeSum, "Sum of this agent's response samples in seconds.", AgentWindow, all3, false},
		{AgentMessages, "Human replies sent by this agent.", AgentWindow, day28, false},
		{AgentBuyersServed, "Buyers served (日接待量): (agent, buyer, local date) at its first reply.", AgentWindow, []string{W24h}, false},
		{AgentInquiriesReplied, "Inquiry cohorts whose first qualifying reply is this agent's.", AgentWindow, day28, false},
		{AgentInquiriesGuided, "Guided inquiry cohorts of this agent.", AgentWindow, day28, false},
		{AgentGuidedGMV, "Guided GMV of this agent's cohorts in yuan.", AgentWindow, day28, false},
	}
}

// Labels of one series; empty fields are absent.
type Labels struct {
	Shop, Agent, Window, Le string
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
	for _, kv := range [][2]string{{"agent", s.Agent}, {"le", s.Le}, {"shop", s.Shop}, {"window", s.Window}} {
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

// Seconds converts whole milliseconds to exported seconds.
func Seconds(ms int64) float64 { return float64(ms) / 1000 }

// Yuan converts fen to exported yuan.
func Yuan(fen int64) float64 { return float64(fen) / 100 }

// LeLabel renders a threshold (milliseconds) as the le label: whole seconds.
func LeLabel(ms int64) string { return strconv.FormatInt(ms/1000, 10) }
