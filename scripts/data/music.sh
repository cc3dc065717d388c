#!/usr/bin/env bash
# Builds a music corpus for the audio plugin: the 41 OGG tracks of Debian's
# wesnoth-1.16-music package (The Battle for Wesnoth's orchestral soundtrack,
# about 2.1 hours, GPL-2) as 16 kHz mono 16-bit FLAC files, one per track.
#   scripts/data/music.sh [--excerpt START,LEN] [OUT]   (OUT defaults to ./data/music)
#   mambakit prepare --modality audio --data data/music -o data/music-prep
# Each track is one document, so the trainer's split (--valid, --seed: a
# share of the documents, drawn at random) holds out whole tracks; the script
# writes one directory and leaves the split to it (docs/plugins-audio.md,
# "Real music"). Idempotent: a track whose FLAC exists is skipped, and a
# FLAC is written under a temporary name and renamed when complete.
# --excerpt START,LEN keeps of each track only the part that starts at
# fraction START of its length and lasts fraction LEN of it (0.30,0.22: 28
# minutes, 35 MB, the corpus of the GPU spectrum in docs/results.md, small
# enough to carry to a lent GPU machine); write it to its own OUT.
# Needs sox with Ogg and FLAC support (apt-get install -y sox libsox-fmt-all).
set -euo pipefail
excerpt=
if [ "${1:-}" = --excerpt ]; then
	excerpt=${2:-}
	[[ $excerpt =~ ^0?\.[0-9]+,0?\.[0-9]+$ ]] || { echo "music.sh: --excerpt wants START,LEN as fractions of a track, e.g. 0.30,0.22; got '$excerpt'" >&2; exit 2; }
	awk -F, -v e="$excerpt" 'BEGIN { split(e, f, ","); exit !(f[1] + f[2] <= 1 && f[2] > 0) }' ||
		{ echo "music.sh: --excerpt $excerpt: START + LEN must be at most 1 and LEN above 0" >&2; exit 2; }
	shift 2
fi
out=${1:-./data/music}
pkg=wesnoth-1.16-music
if ! dpkg -s "$pkg" >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y "$pkg" >/dev/null
	else
		echo "music.sh: $pkg is not installed; run: sudo apt-get install -y $pkg" >&2
		exit 1
	fi
fi
command -v sox >/dev/null || { echo "music.sh: sox is missing; run: apt-get install -y sox libsox-fmt-all" >&2; exit 1; }

version=$(dpkg-query -W -f '${Version}' "$pkg")
echo "source: Debian package $pkg $version (The Battle for Wesnoth, https://www.wesnoth.org/)"
echo "licence: GNU GPL version 2 or later (/usr/share/doc/$pkg/copyright); the corpus is a derived work under the same licence"

mkdir -p "$out"
mapfile -t tracks < <(dpkg -L "$pkg" | grep '\.ogg$' | sort)
made=0
for src in "${tracks[@]}"; do
	dst="$out/$(basename "$src" .ogg).flac"
	[ -s "$dst" ] && continue
	# remix -: the mean of the channels; rate -v: sox's best resampler.
	sox -V1 "$src" -b 16 "$dst.tmp.flac" remix - rate -v 16000
	if [ -n "$excerpt" ]; then
		# trim START LEN in seconds, from the 16 kHz track's own length.
		read -r at len < <(awk -v d="$(soxi -D "$dst.tmp.flac")" -v e="$excerpt" 'BEGIN { split(e, f, ","); printf "%.6f %.6f\n", f[1] * d, f[2] * d }')
		sox -V1 "$dst.tmp.flac" "$dst.cut.flac" trim "$at" "$len"
		mv "$dst.cut.flac" "$dst.tmp.flac"
	fi
	mv "$dst.tmp.flac" "$dst"
	made=$((made + 1))
done
secs=$(for f in "$out"/*.flac; do soxi -D "$f"; done | awk '{s += $1} END {printf "%.0f", s}')
echo "tracks: ${#tracks[@]} ($made converted now), $(du -sh "$out" | cut -f1) in $out, $(awk -v s="$secs" 'BEGIN {printf "%.2f", s/3600}') hours at 16 kHz mono"
