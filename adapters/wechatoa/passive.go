package wechatoa

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// separator joins texts merged into one passive reply.
const separator = "\n\n"

// fitPassive packs a turn's replies into the one message a passive reply
// can carry (PROTOCOLS.md §1.3): the first reply's text, followed by the
// next ones while the whole stays within limit bytes. It returns the text,
// how many replies it carries, and the replies left for active delivery in
// order. A first text over the limit is split, its tail left in rest. When
// replies are left and moreHint is set (an unverified account, whose rest
// waits for the customer's next message), the hint ends the text; limit
// must leave it room (AccountConfig.maxText).
func fitPassive(replies []message.Message, limit int, moreHint string) (text string, carried int, rest []message.Message) {
	i := 0
	for i < len(replies) && wxaccount.TextOf(replies[i]) == "" {
		i++ // nothing WeChat could show
	}
	if i == len(replies) {
		return "", 0, nil
	}
	first := replies[i]
	text = wxaccount.TextOf(first)
	carried = 1
	i++
	if len(text) > limit {
		parts := message.SplitText(text, limit)
		text = parts[0]
		for n, p := range parts[1:] {
			m := first
			m.Text, m.Card, m.Attachments, m.Choices = p, nil, nil, nil
			m.ID = first.ID + ".p" + strconv.Itoa(n+2)
			rest = append(rest, m)
		}
	}
	if len(rest) == 0 {
		for ; i < len(replies); i++ {
			t := wxaccount.TextOf(replies[i])
			if t == "" {
				continue
			}
			if len(text)+len(separator)+len(t) > limit {
				break
			}
			text += separator + t
			carried++
		}
	}
	rest = append(rest, replies[i:]...)
	if len(rest) > 0 && moreHint != "" {
		text += "\n" + moreHint
	}
	return text, carried, rest
}

// writeThenReturn writes body as the response and hands rest back to the
// router only once the passive reply has been written, so the active
// messages never overtake it. fasthttp writes a body stream of known
// length with a Content-Length (no chunking) and closes it right after
// copying it into the connection's buffer, which it flushes next; the
// closer starts the active delivery, which needs a Redis round trip and a
// worker before anything reaches WeChat. If the body could not be written
// in full (the platform dropped the connection), every reply of the turn,
// the passive one included, goes out actively instead.
func writeThenReturn(c *fiber.Ctx, body []byte, turn adapters.Turn, all, rest []message.Message) {
	c.Context().SetBodyStream(&returnOnClose{r: bytes.NewReader(body), onClose: func(written bool) {
		if written {
			turn.Return(rest)
		} else {
			turn.Return(all)
		}
	}}, len(body))
}

// returnOnClose is a body stream that reports, when closed, whether it was
// read to the end.
type returnOnClose struct {
	r       *bytes.Reader
	once    sync.Once
	onClose func(written bool)
}

func (b *returnOnClose) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *returnOnClose) Close() error {
	b.once.Do(func() { b.onClose(b.r.Len() == 0) })
	return nil
}
