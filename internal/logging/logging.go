// Package logging builds kefu's zap logger from configuration.
package logging

import (
	"os"

	"github.com/kefu-gateway/kefu/internal/config"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config is the `log:` block.
type Config struct {
	// Level is debug, info, warn or error. Message bodies are only ever logged at debug.
	Level string `yaml:"level"`
	// Format is json (one object per line, for collectors) or console (for people).
	Format string `yaml:"format"`
}

// Defaults returns the default log configuration.
func Defaults() Config { return Config{Level: "info", Format: "json"} }

// Validate checks the level and format.
func (c *Config) Validate() error {
	var errs []error
	if _, err := zapcore.ParseLevel(c.Level); err != nil {
		errs = append(errs, config.Errorf("level", "must be debug, info, warn or error, not %q", c.Level))
	}
	if c.Format != "json" && c.Format != "console" {
		errs = append(errs, config.Errorf("format", "must be json or console, not %q", c.Format))
	}
	return config.Join(errs...)
}

// New builds a logger writing to stderr.
func New(c Config) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(os.Stderr), level)
	return zap.New(core, zap.AddCaller()), nil
}
