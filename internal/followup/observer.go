package followup

import (
	"context"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Observer folds contact keeping into the router's first round trip of
// each turn (router.ContactObserver): the sender's contact is found or
// created, its last inbound moves (which cancels cancel-on-reply
// follow-ups), and 退订 / 订阅 keywords change consent and are confirmed
// once. It replaces the Inbound interceptor, which costs a round trip of
// its own.
type Observer struct {
	Contacts *contacts.Store
	Log      *zap.Logger
	// Metrics, when set, counts the observations by path.
	Metrics *metrics.Metrics
}

var _ router.ContactObserver = (*Observer)(nil)

// ObservePipe implements router.ContactObserver.
func (o *Observer) ObservePipe(ctx context.Context, pipe redis.Pipeliner, msg message.Message) (func() (router.ContactView, error), error) {
	cmd, err := o.Contacts.ObservePipe(ctx, pipe, msg)
	if err != nil {
		return nil, err
	}
	return o.reader(ctx, msg, cmd), nil
}

// reader reads a queued observation once its pipeline ran: counted by
// path, a consent keyword confirmed once.
func (o *Observer) reader(ctx context.Context, msg message.Message, cmd *contacts.ObserveCmd) func() (router.ContactView, error) {
	return func() (router.ContactView, error) {
		obs, err := cmd.Result(ctx)
		if err != nil {
			return router.ContactView{}, err
		}
		if o.Metrics != nil {
			o.Metrics.ContactObservations.WithLabelValues(obs.Path).Inc()
		}
		reply, take := OptOutReply(o.Contacts.Config().OptOut, obs)
		if take && o.Log != nil {
			o.Log.Info("contact consent changed", zap.String("contact", obs.Contact.ID), zap.String("action", string(obs.Action)),
				zap.Bool("changed", obs.Changed), zap.String("channel", msg.Channel))
		}
		return router.ContactView{Contact: obs.Contact.Flows(), Consent: take, ConsentReply: reply}, nil
	}
}

var _ router.ContactRecaller = (*Observer)(nil)

// Recall implements router.ContactRecaller: the contact this process
// remembers for a sender whose message changes nothing but the times,
// guarded by its version, and the observation that only moves the times.
func (o *Observer) Recall(msg message.Message) (router.RecalledContact, bool) {
	r, ok := o.Contacts.Recall(msg)
	if !ok {
		return router.RecalledContact{}, false
	}
	rec := router.RecalledContact{
		View:      router.ContactView{Contact: r.Contact.Flows()},
		TouchArgs: r.TouchArgs(),
	}
	if o.Metrics != nil {
		rec.Touched = func() { o.Metrics.ContactObservations.WithLabelValues(contacts.ObservedTimesOnly).Inc() }
	}
	return rec, true
}
