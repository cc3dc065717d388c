package safetensors_test

import (
	"fmt"
	"log"

	"github.com/mambakit/mambakit/framework/safetensors"
)

func Example() {
	b, err := safetensors.Marshal([]safetensors.Tensor{
		safetensors.F32("backbone.norm_f.weight", []int{4}, []float32{1, 0.5, 0.25, 2}),
		safetensors.I64("step", nil, []int64{1000}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Parse("model.safetensors", b)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		fmt.Printf("%s %s %v [%d, %d)\n", name, info.DType, info.Shape, info.Begin, info.End)
	}
	w, _ := f.Float64("backbone.norm_f.weight")
	fmt.Println(w, f.Metadata["format"])

	_, err = f.Int64("backbone.norm_f.weight")
	fmt.Println(err)

	// Output:
	// backbone.norm_f.weight F32 [4] [0, 16)
	// step I64 [] [16, 24)
	// [1 0.5 0.25 2] pt
	// safetensors: model.safetensors: tensor "backbone.norm_f.weight": cannot convert F32 to int64; use Float32, Float64 or Raw
}
