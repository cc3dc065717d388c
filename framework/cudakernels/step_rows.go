package cudakernels

import (
	"fmt"

	"github.com/mambakit/mambakit/framework/cuda"
)

// The kernels around cuBLAS's products in a step of more rows than
// StepGEMV takes (framework/cudamodel's Stepper past StepMaxRows rows:
// many samples at once). Each does what StepGEMV's norm or epilogue does
// for its rows, element for element.

// StepRMSNormRows sets Out[b, :] = W · X[b, :] / sqrt(mean(X[b, :]²) + eps)
// for B rows of K (X's row stride LDX, Out packed), the sum in double:
// StepGEMV's staged input when it has NormW. Out16, when not 0, receives
// Out's bfloat16 bits as well (B, K) (bf16_bits of each float32 value: what
// a bf16 product reads).
func (d *Device) StepRMSNormRows(s *cuda.Stream, v StepVariant, x cuda.DevPtr, ldx int, w cuda.DevPtr, eps float32, B, K int, out, out16 cuda.DevPtr) error {
	if err := v.checkAny(B); err != nil {
		return err
	}
	if K < 1 || ldx < K || x == 0 || w == 0 || out == 0 {
		return fmt.Errorf("cudakernels: step rmsnorm rows: K %d, LDX %d; X, W and Out required", K, ldx)
	}
	f, err := d.stepKernel(v, "step_rmsnorm_rows")
	if err != nil {
		return err
	}
	return v.launch(f, cuda.Dim3{X: B}, cuda.Dim3{X: 256}, 0, s, x, ldx, w, eps, K, out, out16)
}

// StepConvRows is StepGEMV's EpiInConv for B rows of in_proj's output XZ
// (B, 2·Din): U[b, d] = SiLU(the convolution step of channel d over the
// row's state and XZ[b, d]), the state (B, Din, Kc−1) shifted in place (a
// row with its reset flag in IO reads zeros), and Z[b, d] = XZ[b, Din+d].
// ConvB may be 0; U16, when not 0, receives U's bfloat16 bits as well (B,
// Din) (bf16_bits of each float32 value: what a bf16 x_proj reads).
func (d *Device) StepConvRows(s *cuda.Stream, v StepVariant, xz cuda.DevPtr, B, Din int, convW, convB, convState cuda.DevPtr, Kc int, io, u, z, u16 cuda.DevPtr) error {
	if err := v.checkAny(B); err != nil {
		return err
	}
	if Din < 1 || Kc < 1 || xz == 0 || convW == 0 || convState == 0 || io == 0 || u == 0 || z == 0 {
		return fmt.Errorf("cudakernels: step conv rows: Din %d, Kc %d; XZ, ConvW, ConvState, IO, U and Z required", Din, Kc)
	}
	f, err := d.stepKernel(v, "step_conv_rows")
	if err != nil {
		return err
	}
	return v.launch(f, d.GridFor(int64(B*Din), 256), cuda.Dim3{X: 256}, 0, s, xz, B, Din, convW, convB, convState, Kc, io, u, z, u16)
}

// StepArgmaxRows sets Argmax[b] to the argmax key of row b of Logits (B,
// V) over the ids below IO's vocabulary limit (decode with ArgmaxID), as
// StepGEMV's EpiArgmax does: Argmax[b] holds 0 before (StepEmbed clears
// it), or a key to beat. Each row is split among argmaxParts blocks.
func (d *Device) StepArgmaxRows(s *cuda.Stream, v StepVariant, logits cuda.DevPtr, B, V int, io, argmax cuda.DevPtr) error {
	if err := v.checkAny(B); err != nil {
		return err
	}
	if V < 1 || logits == 0 || io == 0 || argmax == 0 {
		return fmt.Errorf("cudakernels: step argmax rows: V %d; Logits, IO and Argmax required", V)
	}
	f, err := d.stepKernel(v, "step_argmax_rows")
	if err != nil {
		return err
	}
	return v.launch(f, cuda.Dim3{X: argmaxParts(B, V, d.SMs), Y: B}, cuda.Dim3{X: 256}, 0, s, logits, B, V, io, argmax)
}

// argmaxParts is how many blocks step_argmax_rows gives a row of V
// logits when B rows run on sms multiprocessors: enough for four blocks
// a multiprocessor, none with fewer than 2048 logits.
func argmaxParts(B, V, sms int) int {
	return max(1, min((4*max(sms, 1)+B-1)/B, (V+2047)/2048))
}
