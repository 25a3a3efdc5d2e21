package kpi

import "slices"

// RatioID names a KPI of CONTRACT §4: a quotient of two families, which cskpi does not
// export (numerators and denominators are exported, never ratios) but declares here, once,
// for everything that shows or alerts on it: the recording rules and alerts of
// deploy/prometheus, the dashboards, the /shops page and the demo's table.
type RatioID uint8

// The KPIs of CONTRACT §4, in the catalogue's order, shop level first.
const (
	ResponseTime RatioID = iota
	ResponseRate
	ReplyRate24h
	ReplyRate
	ConsultConversion
	InquiryConversion
	InquiryOrderValue
	PaymentRate
	QARatio
	RefundDisputeRate
	RefundSelfCompletion
	RefundTime
	FirstResponseTime
	BusinessResponseTime
	BusinessFirstResponseTime
	ReplyRate48h
	PaidShare
	AgentResponseTime
	AgentConsultConversion
	AgentInquiryOrderValue
	AgentFirstResponseTime
	AgentBusinessResponseTime
	AgentQARatio
	NumRatios // the number of KPIs
)

// RatioUnit is what a KPI's value is, for annotations, pages and dashboard units.
type RatioUnit uint8

const (
	Share    RatioUnit = iota // a share, 0..1
	Duration                  // a mean duration in seconds
	Amount                    // a mean amount in yuan
	Quotient                  // a plain quotient
)

// Ratio is one KPI: Num over Den per shop (or agent) and window, absent while Den is 0.
type Ratio struct {
	ID       RatioID
	Name     string // English
	Local    string // the platforms' name
	Num, Den ID
	Unit     RatioUnit
	// Section groups the shop KPIs on the shop dashboard, in the catalogue's order.
	Section string
}

// Sections of the shop KPIs.
const (
	SectionResponse = "Response"
	SectionReplies  = "Replies and conversion"
	SectionRefunds  = "Refunds"
	SectionAgent    = "Agent"
)

// Level is the level of its families: ShopWindow or AgentWindow.
func (r Ratio) Level() Level { return r.Num.Family().Level }

// Scene says the KPI exists per scene as well as for both together: both its families carry
// the scene label. The others are one figure: the inquiry KPIs are pre-sale by definition
// (only a pre-sale message opens an inquiry), and orders, refunds and human messages have
// no scene.
func (r Ratio) Scene() bool { return r.Num.Family().Scene && r.Den.Family().Scene }

// Windows are the windows the KPI exists for: those both families have.
func (r Ratio) Windows() []string {
	den := r.Den.Family()
	var out []string
	for _, w := range r.Num.Family().Windows {
		if slices.Contains(den.Windows, w) {
			out = append(out, w)
		}
	}
	return out
}

// Of computes the KPI from its numerator and denominator as exported (seconds, yuan,
// counts); ok is false while the denominator is 0, when the KPI does not exist.
func (r Ratio) Of(num, den float64) (v float64, ok bool) {
	if den <= 0 {
		return 0, false
	}
	return num / den, true
}

// Ratio is the KPI's row of the catalogue.
func (id RatioID) Ratio() Ratio { return ratios()[id] }

// String is the KPI's English name.
func (id RatioID) String() string { return id.Ratio().Name }

func ratios() [NumRatios]Ratio {
	t := [NumRatios]Ratio{
		ResponseTime:              {Name: "Average response time", Local: "响应时长", Num: ResponseTimeSum, Den: Responses, Unit: Duration, Section: SectionResponse},
		ResponseRate:              {Name: "Response rate (≤ le seconds)", Local: "15秒/3分钟响应率", Num: ResponsesWithin, Den: Responses, Unit: Share, Section: SectionResponse},
		ReplyRate24h:              {Name: "24 h reply rate", Local: "24H回复率", Num: BuyerMessagesReplied, Den: BuyerMessages, Unit: Share, Section: SectionReplies},
		ReplyRate:                 {Name: "Reply rate", Local: "回复率", Num: InquiriesReplied, Den: Inquiries, Unit: Share, Section: SectionReplies},
		ConsultConversion:         {Name: "Consult conversion", Local: "咨询转化率", Num: InquiriesGuided, Den: InquiriesReplied, Unit: Share, Section: SectionReplies},
		InquiryConversion:         {Name: "Inquiry conversion", Local: "询单转化率", Num: InquiriesGuided, Den: Inquiries, Unit: Share, Section: SectionReplies},
		InquiryOrderValue:         {Name: "Inquiry order value", Local: "询单客单价", Num: GuidedGMV, Den: InquiriesGuided, Unit: Amount, Section: SectionReplies},
		PaymentRate:               {Name: "Payment rate", Local: "支付率", Num: OrdersPaid, Den: OrdersCreated, Unit: Share, Section: SectionReplies},
		QARatio:                   {Name: "Q&A ratio", Local: "问答比", Num: HumanMessages, Den: BuyerMessages, Unit: Quotient, Section: SectionReplies},
		RefundDisputeRate:         {Name: "Refund dispute rate", Local: "退款纠纷率", Num: RefundsDisputed, Den: OrdersPaid, Unit: Share, Section: SectionRefunds},
		RefundSelfCompletion:      {Name: "Refund self-completion rate", Local: "退款自主完结率", Num: RefundsByMerchant, Den: RefundsCompleted, Unit: Share, Section: SectionRefunds},
		RefundTime:                {Name: "Refund completion time", Local: "退款完结时长", Num: RefundDurationSum, Den: RefundsCompleted, Unit: Duration, Section: SectionRefunds},
		FirstResponseTime:         {Name: "First response time", Local: "首次响应时长", Num: FirstResponseTimeSum, Den: FirstResponses, Unit: Duration, Section: SectionResponse},
		BusinessResponseTime:      {Name: "Business-hours response time", Local: "工作时间响应时长", Num: ResponseBusinessTimeSum, Den: Responses, Unit: Duration, Section: SectionResponse},
		BusinessFirstResponseTime: {Name: "Business-hours first response time", Local: "工作时间首次响应时长", Num: FirstResponseBusinessTimeSum, Den: FirstResponses, Unit: Duration, Section: SectionResponse},
		ReplyRate48h:              {Name: "2-day message reply rate", Local: "回复消息率", Num: BuyerMessagesReplied48h, Den: BuyerMessages, Unit: Share, Section: SectionReplies},
		PaidShare:                 {Name: "Paid share of orders placed", Local: "催付", Num: OrdersCreatedPaid24h, Den: OrdersCreated, Unit: Share, Section: SectionReplies},
		AgentResponseTime:         {Name: "Average response time", Local: "响应时长", Num: AgentResponseTimeSum, Den: AgentResponses, Unit: Duration, Section: SectionAgent},
		AgentConsultConversion:    {Name: "Consult conversion", Local: "咨询转化率", Num: AgentInquiriesGuided, Den: AgentInquiriesReplied, Unit: Share, Section: SectionAgent},
		AgentInquiryOrderValue:    {Name: "Inquiry order value", Local: "询单客单价", Num: AgentGuidedGMV, Den: AgentInquiriesGuided, Unit: Amount, Section: SectionAgent},
		AgentFirstResponseTime:    {Name: "First response time", Local: "首次响应时长", Num: AgentFirstResponseTimeSum, Den: AgentFirstResponses, Unit: Duration, Section: SectionAgent},
		AgentBusinessResponseTime: {Name: "Business-hours response time", Local: "工作时间响应时长", Num: AgentResponseBusinessTimeSum, Den: AgentResponses, Unit: Duration, Section: SectionAgent},
		AgentQARatio:              {Name: "Q&A ratio", Local: "问答比", Num: AgentMessages, Den: AgentBuyerMessagesAnswered, Unit: Quotient, Section: SectionAgent},
	}
	for id := range t {
		t[id].ID = RatioID(id)
	}
	return t
}

// Ratios lists every KPI of CONTRACT §4 in the catalogue's order. The agent load band
// (日接待量) is no quotient: it is AgentBuyersServed against the bands of the rules.
func Ratios() []Ratio {
	t := ratios()
	return t[:]
}

// RatiosAt lists the KPIs of one level (ShopWindow or AgentWindow), in order.
func RatiosAt(l Level) []Ratio {
	var out []Ratio
	for _, r := range Ratios() {
		if r.Level() == l {
			out = append(out, r)
		}
	}
	return out
}
