package models

// NamedTensor is a named, row-major float32 tensor. Names follow the
// PyTorch parameter names given in docs/architectures.md, so a slice of
// NamedTensor maps one to one onto a PyTorch state_dict.
type NamedTensor struct {
	// Name is the PyTorch parameter name, e.g. "transformer.h.0.attn.c_attn.weight".
	Name string
	// Shape is the tensor shape, outermost dimension first.
	Shape []int
	// Data holds the elements in row-major order; len(Data) is the product of Shape.
	Data []float32
}
