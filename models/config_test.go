package models

import (
	"strings"
	"testing"
)

func TestParamCountsMatchSpec(t *testing.T) {
	cases := []struct {
		name                 string
		family               string
		nEmbd, nHead, nLayer int
		vocab, block         int
		mod                  func(*Config)
		total, nonEmb        int64
	}{
		{"gpt2 nanoGPT char, with wpe", FamilyGPT2, 128, 4, 4, 65, 64, nil, 809_856, 801_664 - 65*128},
		{"gpt2 nanoGPT char, rope (no wpe)", FamilyGPT2, 128, 4, 4, 65, 64, func(c *Config) { c.RoPE = true }, 801_664, 801_664 - 65*128},
		{"gpt2-rope-swiglu paper", FamilyGPT2RoPESwiGLU, 64, 4, 2, 8192, 256, nil, 4_194_304, 2_097_152},
		{"silia paper 0.8M", FamilySilia, 64, 4, 2, 8192, 256, nil, 819_200, 294_912},
		{"silia-xga v2", FamilySiliaXGA, 64, 4, 2, 8192, 256, nil, 3_800_064, 1_702_912},
		{"silia untied", FamilySilia, 64, 4, 2, 8192, 256, func(c *Config) { c.TieEmbeddings = false }, 819_200 + 8192*64, 294_912},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DefaultConfig(tc.family)
			if err != nil {
				t.Fatal(err)
			}
			c.NEmbd, c.NHead, c.NLayer, c.VocabSize, c.BlockSize = tc.nEmbd, tc.nHead, tc.nLayer, tc.vocab, tc.block
			if tc.mod != nil {
				tc.mod(&c)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			total, non := c.ParamCounts()
			if total != tc.total || non != tc.nonEmb {
				t.Errorf("ParamCounts = %d, %d; want %d, %d", total, non, tc.total, tc.nonEmb)
			}
		})
	}
}

func TestFlopsPerTokenHandCount(t *testing.T) {
	// silia C=64 H=4 L=2 V=8192 T=256: matmul params 9*4*64*64*2 = 294,912;
	// 2*(294,912 + 8192*64) = 1,638,400; attention 2 layers/block * 2 blocks *
	// 2*2*256*(4*64) = 1,048,576. Forward = 2,686,976.
	c, _ := DefaultConfig(FamilySilia)
	c.NEmbd, c.NHead, c.NLayer, c.VocabSize, c.BlockSize = 64, 4, 2, 8192, 256
	if got, want := c.FlopsPerToken(), int64(2_686_976); got != want {
		t.Errorf("FlopsPerToken = %d, want %d", got, want)
	}
	if got, want := c.TrainFlopsPerToken(), int64(3*2_686_976); got != want {
		t.Errorf("TrainFlopsPerToken = %d, want %d", got, want)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"heads do not divide", func(c *Config) {
			c.Family = FamilyGPT2
			c.NEmbd = 30
			c.NHead = 4
			c.Norm = "layer"
			c.Activation = "gelu"
		}, "does not divide"},
		{"gate on silia", func(c *Config) { c.Gate = true }, "gate is only available"},
		{"bad activation", func(c *Config) { c.Activation = "tanh" }, "allowed: silu, gelu, relu"},
		{"bad family", func(c *Config) { c.Family = "mamba" }, "unknown model family"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := DefaultConfig(FamilySilia)
			c.NEmbd, c.NHead, c.NLayer = 64, 4, 2
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
