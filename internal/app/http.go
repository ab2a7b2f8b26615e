package app

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/kefu-gateway/kefu/internal/demoshop"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

func (a *App) newHTTP() *fiber.App {
	cfg := a.Cfg.HTTP
	app := fiber.New(fiber.Config{
		AppName:                 "kefu",
		BodyLimit:               cfg.BodyLimit,
		ReadBufferSize:          cfg.HeaderLimit,
		ReadTimeout:             cfg.ReadTimeout,
		WriteTimeout:            cfg.WriteTimeout,
		IdleTimeout:             cfg.IdleTimeout,
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: false,
		ProxyHeader: func() string {
			if cfg.TrustProxy {
				return fiber.HeaderXForwardedFor
			}
			return ""
		}(),
		ErrorHandler: a.httpError,
	})
	app.Use(recover.New(recover.Config{EnableStackTrace: false}))
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/readyz", a.ready)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{})))
	a.mountAdmin(app, a.admin)
	if a.Cfg.Demo.Shop {
		// Demo data only: the order look-up and return form of the demo flows.
		app.Use(demoshop.Prefix, adaptor.HTTPHandler(demoshop.NewHandler(demoshop.Prefix)))
	}
	for _, ch := range a.Adapters.Channels() {
		ch.Mount(app)
	}
	return app
}

func (a *App) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).SendString("redis unavailable")
	}
	return c.SendString("ok")
}

// httpError answers errors without internals: fiber's own errors (404, 413,
// ...) keep their status and message; anything else is a 500 logged once.
func (a *App) httpError(c *fiber.Ctx, err error) error {
	code := fiber.StatusInternalServerError
	msg := "internal error"
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code, msg = fe.Code, fe.Message
	} else {
		a.Metrics.Errors.WithLabelValues("http").Inc()
		a.Log.Error("request failed", zap.String("method", c.Method()), zap.String("path", c.Path()), zap.Error(err))
	}
	return c.Status(code).JSON(fiber.Map{"error": msg})
}
