package main

import (
	"testing"

	"github.com/mambakit/mambakit/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Run(t, protein{}, sdktest.Samples{Files: []string{"testdata/ubiquitin.fa", "testdata/two.fa"}, Lossy: true,
		Bad: map[string][]byte{"junk.fa": []byte(">x\nMQ\x00\xff\x01"), "noheader.fa": []byte("MQIFVK\n"), "empty.fa": nil}})
}
