package main

import (
	"crypto/rand"
	"flag"
	"fmt"
)

// tokenAlphabet is WeRoBot's: letters and digits, safe to paste into the
// WeChat admin console.
const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newToken returns a random token of n characters (WeChat accepts 3-32).
func newToken(n int) string {
	out := make([]byte, 0, n)
	var b [64]byte
	for len(out) < n {
		rand.Read(b[:])
		for _, c := range b {
			// Rejection keeps the characters uniform: 248 = 4*62.
			if c < 248 && len(out) < n {
				out = append(out, tokenAlphabet[int(c)%len(tokenAlphabet)])
			}
		}
	}
	return string(out)
}

func tokenCommand(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	length := fs.Int("length", 32, "token length (3-32, WeChat's limits)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *length < 3 || *length > 32 {
		return fmt.Errorf("--length %d is outside WeChat's 3-32", *length)
	}
	fmt.Println(newToken(*length))
	return nil
}
