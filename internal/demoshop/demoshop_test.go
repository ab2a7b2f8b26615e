package demoshop

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := NewHandler(Prefix)
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/demo/shop/orders/100001", "", 200, `"tracking_no":"SF1234567890"`},
		{"GET", "/demo/shop/orders/100002", "", 200, `"status":"processing"`},
		{"GET", "/demo/shop/orders/424242", "", 404, `"order not found"`},
		{"GET", "/orders/100001", "", 404, ""},
		{"POST", "/demo/shop/orders/100001", "", 405, ""},
		{"POST", "/demo/shop/returns", `{"order_id":"100003","reason":"质量问题","phone":"13800138000"}`, 201, `"return_id":"RT100003"`},
		{"POST", "/demo/shop/returns", `{"order_id":"424242","reason":"x","phone":"1"}`, 404, "not found"},
		{"POST", "/demo/shop/returns", `{"order_id":"100003"}`, 400, "required"},
		{"POST", "/demo/shop/returns", `not json`, 400, "required"},
		{"POST", "/demo/shop/returns", strings.Repeat("x", maxBody+1), 413, "too large"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s %s = %d %s", c.method, c.path, rec.Code, rec.Body.String())
		}
		if rec.Code < 300 && rec.Header().Get("X-Demo-Data") != "true" {
			t.Errorf("%s %s: not labelled as demo data", c.method, c.path)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/demo/shop/orders/100003", nil))
	var o Order
	if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil || !o.Demo || o.Notice != Notice || len(o.Items) != 2 {
		t.Fatalf("order = %+v, %v", o, err)
	}
}
