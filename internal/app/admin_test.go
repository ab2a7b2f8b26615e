package app_test

import (
	"net/http"
	"testing"

	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
)

func TestAdminAPIRequiresTheToken(t *testing.T) {
	srv := apptest.Start(t, "admin:\n  token: ${KEFU_ADMIN_TOKEN}\n", apptest.Options{Env: map[string]string{"KEFU_ADMIN_TOKEN": "0123456789abcdef-admin"}})
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", 401}, {"Bearer wrong", 401}, {"Basic 0123456789abcdef-admin", 401}, {"Bearer 0123456789abcdef-admin", 200},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/api/", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, res.StatusCode, tc.want)
		}
	}
	off := apptest.Start(t, "", apptest.Options{})
	res, err := http.Get(off.URL + "/admin/api/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("operator API without admin.token: %d, want 404", res.StatusCode)
	}
}
