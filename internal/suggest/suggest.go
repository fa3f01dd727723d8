// Package suggest finds the "did you mean" for a misspelt name: a
// configuration key, a flag, a command, a robot.* member.
package suggest

import "strings"

// maxName bounds the names compared: the distance costs len(a)*len(b), and
// a name this long is no typo of a short one.
const maxName = 64

// Closest returns the candidate nearest to name by edit distance, allowing
// about one typo in four letters, or "" when none is that close. Case,
// '-' and '_' do not count ("log-level" is "log_level"). Names longer than
// 64 bytes get no suggestion.
func Closest(name string, candidates []string) string {
	if len(name) > maxName {
		return ""
	}
	norm := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	best, bestDist := "", 0
	for _, c := range candidates {
		cn := strings.ReplaceAll(strings.ToLower(c), "-", "_")
		d := editDistance(norm, cn)
		if strings.ReplaceAll(norm, "_", "") == strings.ReplaceAll(cn, "_", "") {
			d = 0
		}
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" || bestDist > max(1, len(best)/4) {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and swaps of two neighbours ("prot"
// for "port") each count one. Names are ASCII, so bytes will do.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
