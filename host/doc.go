// Package host is the HTTP side of LuaRoBot: the endpoint WeChat calls. Its
// Handler verifies and decrypts each request, parses the message, answers
// WeChat's retries once, runs a Dispatcher within WeChat's reply deadline,
// and renders (and encrypts) the reply.
package host
