package wechatoa_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets this package's end-to-end tests, which mostly wait for
// answers that must (or must not) come, run four at a time even on two
// CPUs, unless -parallel is given.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}
