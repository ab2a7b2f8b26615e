package contacts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The operator API's JSON conventions, shared by the contacts, follow-up
// and campaign routes: errors are {"error": message, "field": key} with a
// 4xx status, bodies are decoded strictly.

// ErrorJSON answers {"error": msg, "field": field} with status.
func ErrorJSON(c *fiber.Ctx, status int, field, msg string) error {
	body := fiber.Map{"error": msg}
	if field != "" {
		body["field"] = field
	}
	return c.Status(status).JSON(body)
}

// DecodeJSON decodes the request body into v strictly: the body must be
// one JSON object with no unknown keys. A non-nil error has already been
// answered (400 or 415); the handler just returns it.
func DecodeJSON(c *fiber.Ctx, v any) error {
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return answered(ErrorJSON(c, fiber.StatusUnsupportedMediaType, "", "send application/json"))
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return answered(ErrorJSON(c, fiber.StatusBadRequest, "", "a JSON body is required"))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return answered(ErrorJSON(c, fiber.StatusBadRequest, jsonField(err), "invalid JSON body: "+jsonMessage(err)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return answered(ErrorJSON(c, fiber.StatusBadRequest, "", "invalid JSON body: one object expected"))
	}
	return nil
}

// errAnswered marks a request already answered with an error status.
type errAnswered struct{ err error }

func (e errAnswered) Error() string { return "answered" }

func answered(err error) error {
	if err != nil {
		return err // writing the answer failed: let fiber handle it
	}
	return errAnswered{}
}

// Answered reports whether err only says the request was answered (so
// the handler returns nil).
func Answered(err error) bool {
	var a errAnswered
	return errors.As(err, &a)
}

func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(f, `"`)
	}
	return ""
}

func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be %s, not %s", te.Field, jsonType(te.Type.String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d: %v", se.Offset, err)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "an object"
	case goType == "string", goType == "*string":
		return "a string"
	case goType == "bool", goType == "*bool":
		return "true or false"
	}
	return "a number"
}
