package distributed

import (
	"errors"
	"fmt"
	"strings"
)

// FirstHost returns the first host of a Slurm node list in its compressed
// form (SLURM_NODELIST, SLURM_STEP_NODELIST): "node[01-03,07],gpu5" is
// node01, node02, node03, node07 and gpu5, so its first host is node01.
// A list may hold several bracketed ranges in one name
// ("rack[1-2]-n[01-04]": rack1-n01) and names with dashes and dots; the
// digits of a range keep their zero padding. Anything else is an error.
func FirstHost(list string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(list); {
		c := list[i]
		switch {
		case c == ',':
			if b.Len() == 0 {
				return "", fmt.Errorf("node list %q: an empty host name", list)
			}
			return b.String(), nil
		case c == '[':
			end := strings.IndexByte(list[i:], ']')
			if end < 0 {
				return "", fmt.Errorf("node list %q: a [ without its ]", list)
			}
			first, err := firstOfRange(list[i+1 : i+end])
			if err != nil {
				return "", fmt.Errorf("node list %q: %w", list, err)
			}
			b.WriteString(first)
			i += end + 1
			continue
		case c == ']':
			return "", fmt.Errorf("node list %q: a ] without its [", list)
		case isHostByte(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("node list %q: %q cannot be part of a host name", list, c)
		}
		i++
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("node list %q: no host", list)
	}
	return b.String(), nil
}

// firstOfRange checks a bracket's ranges ("01-03,07") and returns the
// first value, as written.
func firstOfRange(r string) (string, error) {
	if r == "" {
		return "", errors.New("an empty [ ]")
	}
	var first string
	for j, part := range strings.Split(r, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !digits(lo) || isRange && !digits(hi) {
			return "", fmt.Errorf("[%s]: %q is not a number or a range of numbers", r, part)
		}
		if j == 0 {
			first = lo
		}
	}
	return first, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isHostByte reports whether c may be part of a host name.
func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}
