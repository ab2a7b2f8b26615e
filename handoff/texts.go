package handoff

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/kefu-gateway/kefu/internal/config"
)

// Texts are what customers are told along the way. Placeholders in braces
// are filled in: {position}, {agent}, {queue}, {score}, {opens}.
type Texts struct {
	// Queued: the customer now waits for an agent.
	Queued string `yaml:"queued"`
	// Position: an update of the customer's place in the queue.
	Position string `yaml:"position"`
	// Assigned: an agent took the conversation.
	Assigned string `yaml:"assigned"`
	// AlreadyServing: the customer asked for a human while one serves them.
	AlreadyServing string `yaml:"already_serving"`
	// Transferred: the conversation moved to another agent.
	Transferred string `yaml:"transferred"`
	// Requeued: the conversation went back to the queue for another agent.
	Requeued string `yaml:"requeued"`
	// OutOfHours: the queue is closed (a queue's out_of_hours_message overrides it).
	OutOfHours string `yaml:"out_of_hours"`
	// NoAgents: no configured agent serves the queue.
	NoAgents string `yaml:"no_agents"`
	// Expired: nobody took the conversation within queue_timeout.
	Expired string `yaml:"expired"`
	// LeaveMessageOffer follows OutOfHours, NoAgents and Expired when
	// leaving a message is enabled.
	LeaveMessageOffer string `yaml:"leave_message_offer"`
	// MessageLeft thanks the customer for the message they left.
	MessageLeft string `yaml:"message_left"`
	// LeftQueue: the customer left the queue and is back with the bot.
	LeftQueue string `yaml:"left_queue"`
	// Resolved: the agent ended the conversation.
	Resolved string `yaml:"resolved"`
	// AutoResolved: the conversation ended because the customer went quiet.
	AutoResolved string `yaml:"auto_resolved"`
	// ReturnedToBot: the agent gave the customer back to the bot.
	ReturnedToBot string `yaml:"returned_to_bot"`
	// CSATQuestion asks for the 1–5 rating.
	CSATQuestion string `yaml:"csat_question"`
	// CSATThanks answers a rating.
	CSATThanks string `yaml:"csat_thanks"`
	// CallBack: an agent answers the message the customer left (/callback).
	CallBack string `yaml:"call_back"`
	// Servicer: the 微信客服 conversation went to WeCom's own reception.
	Servicer string `yaml:"servicer"`
	// Stale: a handoff ended while the customer was writing; the customer
	// is asked to send the message again, to the bot.
	Stale string `yaml:"stale"`
}

// DefaultTexts returns the default sentences.
func DefaultTexts() Texts {
	return Texts{
		Queued:            "已为您转接人工客服，您当前排在第 {position} 位，请稍候。回复“退出排队”可返回智能客服。",
		Position:          "您当前排在第 {position} 位，请稍候。",
		Assigned:          "您好，客服{agent}为您服务，请问有什么可以帮您？",
		AlreadyServing:    "客服{agent}正在为您服务，请直接发送您的问题。",
		Transferred:       "已为您转接客服{agent}。",
		Requeued:          "正在为您转接其他客服，请稍候。",
		OutOfHours:        "现在是非工作时间，人工客服暂时无法接待（下次上班时间：{opens}）。",
		NoAgents:          "抱歉，目前没有可以接待的人工客服。",
		Expired:           "抱歉，客服都在忙，暂时无法接待您。",
		LeaveMessageOffer: "您可以直接发送留言，客服会尽快联系您；回复“取消”继续和智能客服对话。",
		MessageLeft:       "已收到您的留言，客服会尽快联系您。现在由智能客服继续为您服务。",
		LeftQueue:         "已退出排队，智能客服继续为您服务。",
		Resolved:          "本次人工服务已结束，感谢您的耐心。智能客服继续为您服务。",
		AutoResolved:      "由于长时间没有收到您的消息，本次人工服务已结束。有需要随时找我。",
		ReturnedToBot:     "客服已将您转回智能客服，需要人工时请回复“人工”。",
		CSATQuestion:      "请为本次服务打分：回复 1-5 的数字（5 = 非常满意，1 = 非常不满意）。",
		CSATThanks:        "感谢您的评价（{score} 分）！",
		CallBack:          "您好，我是客服{agent}，看到了您的留言，现在为您服务。",
		Servicer:          "正在为您转接人工客服，请稍候。",
		Stale:             "抱歉，刚才的人工服务已结束，请重新发送您的问题。",
	}
}

func (t *Texts) validate() error {
	var errs []error
	v := reflect.ValueOf(t).Elem()
	for i := 0; i < v.NumField(); i++ {
		if strings.TrimSpace(v.Field(i).String()) == "" {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			errs = append(errs, config.Errorf(name, "must not be empty"))
		}
	}
	return config.Join(errs...)
}

// vars are the values of the placeholders.
type vars struct {
	Position int
	Agent    string
	Queue    string
	Score    int
	Opens    string
}

// fill replaces the placeholders in s.
func fill(s string, v vars) string {
	return strings.NewReplacer(
		"{position}", strconv.Itoa(v.Position),
		"{agent}", v.Agent,
		"{queue}", v.Queue,
		"{score}", strconv.Itoa(v.Score),
		"{opens}", v.Opens,
	).Replace(s)
}
