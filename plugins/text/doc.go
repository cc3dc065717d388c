// Package text is mambakit's text modality: byte-level BPE tokenizers
// (trained here, deterministically, or loaded from a Hugging Face
// tokenizer.json with Hugging Face's exact ids) and a plain byte tokenizer.
// See docs/plugins-text.md.
package text
