package models

// activationFloatsPerWidthLayer is, per family, the float32 values a
// Trainer keeps per token of a micro-batch for each unit of residual width
// and each layer (op outputs, saved inputs and gradients). Fitted to the
// live heap after two steps at widths 64-128, 2-4 layers, batch 8-32,
// block 64-256 (this repository's ops; see TestTrainBytesMatchesMeasuredHeap).
var activationFloatsPerWidthLayer = map[string]int64{
	FamilyGPT2:           44,
	FamilyGPT2RoPESwiGLU: 48,
	FamilySilia:          106,
	FamilySiliaXGA:       45,
}

// ActivationFloatsPerToken is the float32 values a Trainer of c keeps per
// token of a micro-batch: per layer and unit of width (family dependent),
// plus the logits and their gradient (about 1.25 per vocabulary entry) and
// embeddings and loss (about 320).
func (c Config) ActivationFloatsPerToken() int64 {
	a, ok := activationFloatsPerWidthLayer[c.Family]
	if !ok {
		a = 106 // the largest: unknown families are not underestimated
	}
	return a*int64(c.Width())*int64(c.NLayer) + int64(c.VocabSize)*5/4 + 320
}

// TrainBytes estimates the heap a Trainer of c with micro-batches of batch
// sequences of BlockSize tokens holds once it has stepped: weights and
// gradients (8 bytes per parameter) and activations (4 bytes ×
// ActivationFloatsPerToken × batch × BlockSize). Optimiser state is the
// runner's and not included.
func (c Config) TrainBytes(batch int) int64 {
	total, _ := c.ParamCounts()
	return 8*total + 4*c.ActivationFloatsPerToken()*int64(batch)*int64(c.BlockSize)
}
