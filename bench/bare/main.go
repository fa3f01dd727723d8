// Command bare is the load test's baseline: a net/http server that answers
// every request with a fixed passive-reply XML, doing none of a bot host's
// work. bench/load.sh measures LuaRoBot against it in the same run.
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
)

const fixed = `<xml><ToUserName><![CDATA[bench-user]]></ToUserName><FromUserName><![CDATA[gh_bench]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content></xml>`

func main() {
	addr := flag.String("addr", "127.0.0.1:8899", "listen address")
	flag.Parse()
	body := []byte(fixed)
	length := strconv.Itoa(len(body))
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Content-Length", length)
		w.Write(body)
	})))
}
