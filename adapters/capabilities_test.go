package adapters_test

import (
	"reflect"
	"testing"

	"github.com/kefu-gateway/kefu/adapters"
)

func TestRoutingMetaOfKeepsOnlyTheDeclaredKeys(t *testing.T) {
	caps := adapters.Capabilities{RoutingMeta: []string{"open_kfid", "robot_code"}}
	for _, tc := range []struct {
		meta, want map[string]string
	}{
		{map[string]string{"open_kfid": "wk1", "msg_type": "text", "client_id": "x"}, map[string]string{"open_kfid": "wk1"}},
		{map[string]string{"open_kfid": "", "robot_code": "r"}, map[string]string{"open_kfid": "", "robot_code": "r"}},
		{map[string]string{"msg_type": "text"}, nil},
		{nil, nil},
	} {
		if got := caps.RoutingMetaOf(tc.meta); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("RoutingMetaOf(%v) = %v, want %v", tc.meta, got, tc.want)
		}
	}
	if got := (adapters.Capabilities{}).RoutingMetaOf(map[string]string{"open_kfid": "wk1"}); got != nil {
		t.Errorf("a channel without routing meta kept %v", got)
	}
}
